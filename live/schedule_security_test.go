package live

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Well-known SIDs of the fake descriptors.
const (
	sidUsers     = "S-1-5-32-545"
	sidAuthUsers = "S-1-5-11"
	sidAlice     = "S-1-5-21-1004336348-1177238915-682003330-1001"
)

// Access masks as icacls shows them.
const (
	maskFull        = 0x001F01FF // F
	maskReadExecute = 0x001200A9 // RX
	maskModify      = 0x001301BF // M
)

// programFiles is C:\Program Files as Windows ships it.
var programFiles = Descriptor{Owner: SIDTrustedInstaller, Protected: true, ACEs: []ACE{
	{SID: SIDTrustedInstaller, Allow: true, Mask: maskFull},
	{SID: SIDSystem, Allow: true, Mask: maskFull, Flags: aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDAdministrators, Allow: true, Mask: maskFull, Flags: aceFlagObjInherit | aceFlagContInherit},
	{SID: sidUsers, Allow: true, Mask: maskReadExecute, Flags: aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDCreatorOwner, Allow: true, Mask: accessGenericAll, Flags: aceFlagInheritOnly | aceFlagObjInherit | aceFlagContInherit},
}}

// inProgramFiles is a folder an administrator created in it.
var inProgramFiles = Descriptor{Owner: SIDAdministrators, ACEs: []ACE{
	{SID: SIDSystem, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDAdministrators, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
	{SID: sidUsers, Allow: true, Mask: maskReadExecute, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDCreatorOwner, Allow: true, Mask: accessGenericAll, Flags: aceFlagInherited | aceFlagInheritOnly | aceFlagObjInherit | aceFlagContInherit},
}}

// downloads is C:\Users\alice\Downloads.
var downloads = Descriptor{Owner: sidAlice, ACEs: []ACE{
	{SID: SIDSystem, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDAdministrators, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
	{SID: sidAlice, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
}}

// driveRoot is C:\ as Windows ships it: users may create folders in it.
var driveRoot = Descriptor{Owner: SIDTrustedInstaller, Protected: true, ACEs: []ACE{
	{SID: SIDAdministrators, Allow: true, Mask: maskFull, Flags: aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDSystem, Allow: true, Mask: maskFull, Flags: aceFlagObjInherit | aceFlagContInherit},
	{SID: sidUsers, Allow: true, Mask: maskReadExecute, Flags: aceFlagObjInherit | aceFlagContInherit},
	{SID: sidAuthUsers, Allow: true, Mask: maskModify, Flags: aceFlagInheritOnly | aceFlagObjInherit | aceFlagContInherit},
	{SID: sidAuthUsers, Allow: true, Mask: accessAppendData},
}}

// userFolderOnRoot is C:\tools, made by a user: Authenticated Users may
// modify it and what it holds (inherited from C:\).
var userFolderOnRoot = Descriptor{Owner: sidAlice, ACEs: []ACE{
	{SID: SIDAdministrators, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDSystem, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
	{SID: sidAuthUsers, Allow: true, Mask: maskModify, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
}}

func TestCheckProgramLocation(t *testing.T) {
	withUsers := inProgramFiles
	withUsers.ACEs = append(append([]ACE(nil), withUsers.ACEs...), ACE{SID: sidUsers, Allow: true, Mask: accessWriteData})
	denyOnly := inProgramFiles
	denyOnly.ACEs = append(append([]ACE(nil), denyOnly.ACEs...), ACE{SID: sidUsers, Allow: false, Mask: maskFull})
	adminFolderOnRoot := inProgramFiles // C:\evtxscan made by an administrator, then locked down
	adminFolderOnRoot.Protected = true
	junction := inProgramFiles
	junction.Reparse = true
	usersMayRenameIn := programFiles
	usersMayRenameIn.ACEs = append(append([]ACE(nil), usersMayRenameIn.ACEs...), ACE{SID: sidUsers, Allow: true, Mask: accessDeleteChild})
	userFile := inProgramFiles
	userFile.Owner = sidAlice
	tests := []struct {
		name           string
		file           *Descriptor
		folder, parent Descriptor
		want           string // "" = accepted
	}{
		{"Program Files", nil, inProgramFiles, programFiles, ""},
		{"Program Files, file copied", &inProgramFiles, inProgramFiles, programFiles, ""},
		{"an administrator's folder on C:", nil, adminFolderOnRoot, driveRoot, ""},
		{"deny entries change nothing", nil, denyOnly, programFiles, ""},
		{"Downloads", nil, downloads, downloads, "owned by " + sidAlice},
		{"a user's folder on C:", nil, userFolderOnRoot, driveRoot, "changed by " + sidAuthUsers},
		{"users may add files", nil, withUsers, programFiles, "its folder can be changed by " + sidUsers},
		{"a junction", nil, junction, programFiles, "junction"},
		{"parent lets users rename it", nil, inProgramFiles, usersMayRenameIn, "the folder above can be changed by " + sidUsers},
		{"parent owned by a user", nil, inProgramFiles, downloads, "the folder above is owned by"},
		{"no DACL", nil, Descriptor{Owner: SIDAdministrators, NullDACL: true}, programFiles, "Everyone"},
		{"the copy owned by a user", &userFile, inProgramFiles, programFiles, "the program is owned by " + sidAlice},
	}
	for _, tt := range tests {
		err := CheckProgramLocation(`C:\x\evtxscan`, tt.file, tt.folder, tt.parent)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s: accepted, want refused (%s)", tt.name, tt.want)
		case tt.want != "" && (!strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `C:\x\evtxscan`) || !strings.Contains(err.Error(), "ProgramFiles")):
			t.Errorf("%s: %v\nwant it to name the folder, %q and what to do", tt.name, err, tt.want)
		}
	}
}

// fakeSecurity is a SecurityStore over a map; Protect sets the
// descriptor DataFolderSDDL stands for, and what is created inside then
// inherits it.
type fakeSecurity struct {
	d        map[string]Descriptor
	protects []string
	failSet  error
}

var protectedData = Descriptor{Owner: SIDAdministrators, Protected: true, ACEs: []ACE{
	{SID: SIDSystem, Allow: true, Mask: maskFull, Flags: aceFlagObjInherit | aceFlagContInherit},
	{SID: SIDAdministrators, Allow: true, Mask: maskFull, Flags: aceFlagObjInherit | aceFlagContInherit},
}}

func (f *fakeSecurity) Descriptor(path string) (Descriptor, error) {
	if d, ok := f.d[path]; ok {
		return d, nil
	}
	if _, err := os.Lstat(path); err != nil {
		return Descriptor{}, err
	}
	// Created by the installing administrator, inheriting from its folder.
	return inProgramFiles, nil
}

func (f *fakeSecurity) Protect(path string) error {
	if f.failSet != nil {
		return f.failSet
	}
	f.protects = append(f.protects, path)
	f.d[path] = protectedData
	return nil
}

func (f *fakeSecurity) CreateProtected(path string) error {
	if err := os.Mkdir(path, 0o700); err != nil {
		return err
	}
	f.d[path] = protectedData
	return nil
}

func TestInstallProgram(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(root, "Downloads", "evtxscan.exe")
	os.MkdirAll(filepath.Dir(self), 0o755)
	os.WriteFile(self, []byte("MZ new"), 0o755)
	progFiles := filepath.Join(root, "Program Files")
	os.MkdirAll(progFiles, 0o755)
	dir := filepath.Join(progFiles, "evtxscan")

	store := &fakeSecurity{d: map[string]Descriptor{progFiles: programFiles}}
	got, err := InstallProgram(store, self, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, ProgramName) {
		t.Errorf("installed as %s", got)
	}
	if b, _ := os.ReadFile(got); string(b) != "MZ new" {
		t.Errorf("installed copy holds %q", b)
	}
	// Run again from the installed copy: nothing to copy, still checked.
	if again, err := InstallProgram(store, got, dir); err != nil || again != got {
		t.Errorf("reinstall from itself: %s %v", again, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// A user-writable destination is refused, and nothing is copied.
	userDir := filepath.Join(root, "tools")
	store.d[userDir] = userFolderOnRoot
	store.d[root] = driveRoot
	if _, err := InstallProgram(store, self, userDir); err == nil || !strings.Contains(err.Error(), "not a safe place") {
		t.Errorf("user-writable folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(userDir, ProgramName)); err == nil {
		t.Error("program copied into a refused folder")
	}
	// A copy that comes out unsafe (e.g. an inheritable user entry) is removed.
	store.d[filepath.Join(dir, ProgramName)] = userFolderOnRoot
	if _, err := InstallProgram(store, self, dir); err == nil || !strings.Contains(err.Error(), "the program") {
		t.Errorf("unsafe copy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ProgramName)); err == nil {
		t.Error("unsafe copy left in place")
	}
}

func TestCheckDataFolder(t *testing.T) {
	// %ProgramData%\evtxscan made by an administrator, inheriting from
	// %ProgramData% (Users may read and create files).
	inheriting := Descriptor{Owner: SIDAdministrators, ACEs: []ACE{
		{SID: SIDSystem, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
		{SID: SIDAdministrators, Allow: true, Mask: maskFull, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
		{SID: sidUsers, Allow: true, Mask: maskReadExecute, Flags: aceFlagInherited | aceFlagObjInherit | aceFlagContInherit},
		{SID: sidUsers, Allow: true, Mask: accessWriteData | accessAppendData, Flags: aceFlagInherited | aceFlagContInherit},
		{SID: SIDCreatorOwner, Allow: true, Mask: accessGenericAll, Flags: aceFlagInherited | aceFlagInheritOnly | aceFlagObjInherit | aceFlagContInherit},
	}}
	protectedButUsers := protectedData
	protectedButUsers.ACEs = append(append([]ACE(nil), protectedData.ACEs...), ACE{SID: sidUsers, Allow: true, Mask: maskReadExecute})
	systemOwned := protectedData
	systemOwned.Owner = SIDSystem
	userCreated := inheriting
	userCreated.Owner = sidAlice
	link := protectedData
	link.Reparse = true
	tests := []struct {
		name string
		d    Descriptor
		want DataFolderState
		why  string
	}{
		{"as created", protectedData, DataFolderOK, ""},
		{"owned by SYSTEM", systemOwned, DataFolderOK, ""},
		{"inheriting from ProgramData", inheriting, DataFolderRepair, "inherits"},
		{"users may read", protectedButUsers, DataFolderRepair, "grants access to " + sidUsers},
		{"no DACL", Descriptor{Owner: SIDAdministrators, Protected: true, NullDACL: true}, DataFolderRepair, "no DACL"},
		{"created first by a user", userCreated, DataFolderRefused, "owned by " + sidAlice},
		{"a junction", link, DataFolderRefused, "junction"},
	}
	for _, tt := range tests {
		got, why := CheckDataFolder(tt.d)
		if got != tt.want || !strings.Contains(strings.Join(why, "; "), tt.why) {
			t.Errorf("%s: %v %q, want %v %q", tt.name, got, why, tt.want, tt.why)
		}
	}
}

func TestSecureDataFolder(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	os.WriteFile(state, []byte("{}"), 0o600)
	list := func(string) ([]string, error) { return []string{state}, nil }
	inheriting := Descriptor{Owner: SIDAdministrators, ACEs: []ACE{{SID: sidUsers, Allow: true, Mask: maskReadExecute, Flags: aceFlagInherited}}}

	// Created: protected from the start, nothing to repair.
	fresh := filepath.Join(dir, "sub", "evtxscan")
	store0 := &fakeSecurity{d: map[string]Descriptor{}}
	if repaired, err := SecureDataFolder(store0, fresh, nil); err != nil || repaired != nil || store0.d[fresh].Owner != SIDAdministrators {
		t.Errorf("create: %v %v %v", repaired, err, store0.d)
	}
	if fi, err := os.Stat(fresh); err != nil || !fi.IsDir() {
		t.Errorf("not created: %v", err)
	}

	// Inheriting from %ProgramData%: repaired, then right.
	store := &fakeSecurity{d: map[string]Descriptor{dir: inheriting, state: protectedData}}
	repaired, err := SecureDataFolder(store, dir, list)
	if err != nil || len(repaired) == 0 || len(store.protects) != 1 {
		t.Fatalf("repair: %v %v %v", repaired, err, store.protects)
	}
	// Checked again on the next run: nothing to do.
	if repaired, err := SecureDataFolder(store, dir, list); err != nil || repaired != nil || len(store.protects) != 1 {
		t.Errorf("second run: %v %v %v", repaired, err, store.protects)
	}

	// Pre-created by a user: refused, untouched, with what to do.
	userOwned := inheriting
	userOwned.Owner = sidAlice
	store = &fakeSecurity{d: map[string]Descriptor{dir: userOwned, state: protectedData}}
	_, err = SecureDataFolder(store, dir, list)
	if !errors.Is(err, ErrUnsafeDataFolder) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "delete it") || len(store.protects) != 0 {
		t.Errorf("user's folder: %v, protects %v", err, store.protects)
	}

	// A state file a user planted before the repair: refused by name.
	store = &fakeSecurity{d: map[string]Descriptor{dir: inheriting, state: {Owner: sidAlice, ACEs: []ACE{{SID: sidAlice, Allow: true, Mask: maskFull}}}}}
	_, err = SecureDataFolder(store, dir, list)
	if !errors.Is(err, ErrUnsafeDataFolder) || !strings.Contains(err.Error(), state) {
		t.Errorf("planted state: %v", err)
	}

	// The repair fails (not elevated): refused, saying so.
	store = &fakeSecurity{d: map[string]Descriptor{dir: inheriting}, failSet: errors.New("Access is denied.")}
	if _, err := SecureDataFolder(store, dir, list); !errors.Is(err, ErrUnsafeDataFolder) || !strings.Contains(err.Error(), "elevated") {
		t.Errorf("failed repair: %v", err)
	}
}

// splitCommandLine splits a command line as CommandLineToArgvW and the
// Microsoft C runtime do (after the program name): 2n backslashes before a
// quote give n and the quote delimits; 2n+1 give n and a literal quote;
// other backslashes are literal.
func splitCommandLine(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					inQuote = !inQuote
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			have = true
		case c == '"':
			inQuote = !inQuote
			have = true
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

func TestJoinCommandLineRoundTrip(t *testing.T) {
	tests := [][]string{
		{"live", "--once"},
		{`C:\Program Files\evtxscan\reports`},
		{`C:\ProgramData\evtxscan\`},               // trailing backslash, no space: left as is
		{`C:\Program Files\evtxscan\`},             // trailing backslash inside quotes: doubled
		{`C:\dir with space\\`},                    // two trailing backslashes
		{`say "hi"`, `"`, `\"`, `\\"`, `a\\\"b c`}, // quotes after backslashes
		{"", "x", ""},                              // empty arguments survive
		{"tab\there", `--keyword=a b`, `--out=C:\a b\`},
		{`\\server\share\evtxscan reports\`},
	}
	for _, args := range tests {
		line := JoinCommandLine(args)
		if got := splitCommandLine(line); strings.Join(got, "\x00") != strings.Join(args, "\x00") || len(got) != len(args) {
			t.Errorf("JoinCommandLine(%q) = %s, splits back into %q", args, line, got)
		}
	}
}

func TestTaskCommandQuoted(t *testing.T) {
	task := Task{Name: DefaultTaskName, Every: time.Hour, Program: `C:\Program Files\evtxscan\evtxscan.exe`,
		Args: []string{"live", "--once", "--out", `C:\ProgramData\evtxscan\reports dir\`}, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local)}
	b, err := task.XML()
	if err != nil {
		t.Fatal(err)
	}
	s := decodeUTF16(t, b)
	var back taskXML
	if err := xml.Unmarshal([]byte(strings.Replace(s, `encoding="UTF-16"`, `encoding="UTF-8"`, 1)), &back); err != nil {
		t.Fatal(err)
	}
	if back.Actions.Exec.Command != `"C:\Program Files\evtxscan\evtxscan.exe"` {
		t.Errorf("Command %s: not quoted", back.Actions.Exec.Command)
	}
	if got := splitCommandLine(back.Actions.Exec.Arguments); strings.Join(got, "|") != strings.Join(task.Args, "|") {
		t.Errorf("Arguments %s split into %q", back.Actions.Exec.Arguments, got)
	}
	if back.Principals.Principal.UserID != SIDSystem {
		t.Errorf("runs as %s", back.Principals.Principal.UserID)
	}
	task.Program = `C:\a"b\evtxscan.exe`
	if err := task.Check(); err == nil || !strings.Contains(err.Error(), "quote") {
		t.Errorf("program with a quote: %v", err)
	}
}
