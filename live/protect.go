package live

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The scheduled task runs as SYSTEM. Whoever can replace the program it
// starts runs code as SYSTEM; whoever can write its data folder can edit
// the state (and blind the monitor) or read reports built from the
// Security log. This file decides, from a folder's security descriptor,
// whether it is safe; the Windows calls that read and set descriptors sit
// behind the SecurityStore interface (protect_windows.go), so the
// decisions are tested on every system with fake descriptors.

// Well-known SIDs the decisions trust.
const (
	SIDSystem           = "S-1-5-18"     // NT AUTHORITY\SYSTEM
	SIDAdministrators   = "S-1-5-32-544" // BUILTIN\Administrators
	SIDCreatorOwner     = "S-1-3-0"      // CREATOR OWNER (inherit-only placeholder)
	SIDTrustedInstaller = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
)

// DataFolderSDDL is the security descriptor of the data folder
// (%ProgramData%\evtxscan): owned by Administrators, a protected DACL (no
// permission inherited from %ProgramData%, where Users may read) granting
// full control to SYSTEM and Administrators only, inherited by everything
// created inside.
const DataFolderSDDL = "O:BAG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// Access mask bits that matter here (winnt.h).
const (
	accessWriteData     = 0x00000002 // FILE_WRITE_DATA / FILE_ADD_FILE
	accessAppendData    = 0x00000004 // FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY
	accessWriteEA       = 0x00000010 // FILE_WRITE_EA
	accessDeleteChild   = 0x00000040 // FILE_DELETE_CHILD
	accessWriteAttrs    = 0x00000100 // FILE_WRITE_ATTRIBUTES
	accessDelete        = 0x00010000 // DELETE
	accessWriteDAC      = 0x00040000 // WRITE_DAC
	accessWriteOwner    = 0x00080000 // WRITE_OWNER
	accessGenericAll    = 0x10000000 // GENERIC_ALL
	accessGenericWrite  = 0x40000000 // GENERIC_WRITE
	accessMaximumAllow  = 0x02000000 // MAXIMUM_ALLOWED
	aceFlagInheritOnly  = 0x08       // INHERIT_ONLY_ACE
	aceFlagObjInherit   = 0x01       // OBJECT_INHERIT_ACE
	aceFlagContInherit  = 0x02       // CONTAINER_INHERIT_ACE
	aceFlagInherited    = 0x10       // INHERITED_ACE
	accessAnyWrite      = accessWriteData | accessAppendData | accessWriteEA | accessDeleteChild | accessWriteAttrs | accessDelete | accessWriteDAC | accessWriteOwner | accessGenericAll | accessGenericWrite | accessMaximumAllow
	accessReplaceInside = accessDeleteChild | accessWriteDAC | accessWriteOwner | accessGenericAll | accessMaximumAllow
)

// An ACE is one access-control entry of a DACL.
type ACE struct {
	SID   string // e.g. S-1-5-32-545 (Users)
	Allow bool   // an access-allowed entry (else access-denied or other)
	Mask  uint32 // access mask
	Flags uint8  // ACE flags (inheritance)
}

// A Descriptor is what the decisions need of a file's or folder's security
// descriptor.
type Descriptor struct {
	Owner     string // owner SID
	Protected bool   // the DACL does not inherit from the parent (SE_DACL_PROTECTED)
	NullDACL  bool   // no DACL at all: everyone has full access
	ACEs      []ACE
	Reparse   bool // a junction or symbolic link, not a plain folder
}

// A SecurityStore reads and sets security descriptors; on Windows it calls
// GetNamedSecurityInfo and SetNamedSecurityInfo.
type SecurityStore interface {
	// Descriptor reads path's owner and DACL.
	Descriptor(path string) (Descriptor, error)
	// Protect sets path's owner and DACL to DataFolderSDDL.
	Protect(path string) error
	// CreateProtected creates the folder path (its parent exists) with
	// DataFolderSDDL from the start, so nothing can be put in it before
	// it is protected.
	CreateProtected(path string) error
}

// trustedWriter reports whether sid may control a program SYSTEM runs.
func trustedWriter(sid string) bool {
	return sid == SIDSystem || sid == SIDAdministrators || sid == SIDTrustedInstaller
}

// userWritable lists the untrusted SIDs that can change what is in the
// folder or file d describes (write, delete, change its permissions or
// owner). mask selects the rights that count. An inherit-only entry
// counts too when it would hand those rights to files created inside,
// except CREATOR OWNER's (the creator is the administrator installing).
func (d Descriptor) userWritable(mask uint32) []string {
	if d.NullDACL {
		return []string{"Everyone (no DACL)"}
	}
	var who []string
	for _, a := range d.ACEs {
		if !a.Allow || a.Mask&mask == 0 || trustedWriter(a.SID) {
			continue
		}
		if a.SID == SIDCreatorOwner && a.Flags&aceFlagInheritOnly != 0 {
			continue
		}
		who = append(who, a.SID)
	}
	return who
}

// CheckProgramLocation decides whether the program a SYSTEM task runs is
// safe where it is: folder and parent describe the folder holding it and
// that folder's parent, file the program itself (nil before it is copied).
// Only SYSTEM, Administrators and TrustedInstaller may own them or write
// them; the parent must not let anyone else rename or delete the folder.
// The error names path and says what to do.
func CheckProgramLocation(path string, file *Descriptor, folder, parent Descriptor) error {
	var problems []string
	check := func(what string, d Descriptor, mask uint32) {
		if d.Reparse {
			problems = append(problems, what+" is a junction or symbolic link")
		}
		if !trustedWriter(d.Owner) {
			problems = append(problems, fmt.Sprintf("%s is owned by %s", what, d.Owner))
		}
		if who := d.userWritable(mask); len(who) > 0 {
			problems = append(problems, fmt.Sprintf("%s can be changed by %s", what, strings.Join(who, ", ")))
		}
	}
	if file != nil {
		check("the program", *file, accessAnyWrite)
	}
	check("its folder", folder, accessAnyWrite)
	check("the folder above", parent, accessReplaceInside)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s is not a safe place for a program run as SYSTEM: %s; install from an elevated prompt into the default %%ProgramFiles%%\\evtxscan (leave out --install-dir) or a folder only administrators can write",
		path, strings.Join(problems, "; "))
}

// DataFolderState is the verdict on the data folder.
type DataFolderState int

const (
	DataFolderOK      DataFolderState = iota // protected as DataFolderSDDL says
	DataFolderRepair                         // to be reset to DataFolderSDDL
	DataFolderRefused                        // unsafe and not to be repaired (foreign owner, link)
)

// CheckDataFolder decides what to do with the data folder d describes.
// It is right when it is a plain folder owned by SYSTEM or Administrators
// with a protected DACL that grants access (any access: the reports come
// from the Security log) only to SYSTEM and Administrators.
//
// A folder owned by anyone else is refused, not repaired: its owner (a
// user who created it first) may have put a state file in it, and can
// delete it or swap it for a junction between the check and the repair,
// so that the repair would change the permissions of wherever it points.
// A junction or link is refused for the same reason. A folder owned by
// SYSTEM or Administrators with other permissions (created by an older
// version, or inheriting from %ProgramData%) is repaired: no user can
// delete or rename it.
func CheckDataFolder(d Descriptor) (DataFolderState, []string) {
	if d.Reparse {
		return DataFolderRefused, []string{"it is a junction or symbolic link"}
	}
	if d.Owner != SIDSystem && d.Owner != SIDAdministrators {
		return DataFolderRefused, []string{"it is owned by " + d.Owner + ", not by SYSTEM or Administrators"}
	}
	var why []string
	if d.NullDACL {
		why = append(why, "no DACL (everyone has full access)")
	}
	if !d.Protected {
		why = append(why, "inherits permissions from its parent")
	}
	for _, a := range d.ACEs {
		if a.Allow && a.Mask != 0 && a.SID != SIDSystem && a.SID != SIDAdministrators {
			why = append(why, "grants access to "+a.SID)
		}
	}
	if len(why) == 0 {
		return DataFolderOK, nil
	}
	return DataFolderRepair, why
}

// CheckFile decides whether a file or folder inside the data folder is
// safe: owned by SYSTEM or Administrators and granting no one else any
// access. Files created inside a protected folder are; a file a user put
// there before the folder was repaired may not be.
func CheckFile(d Descriptor) []string {
	var why []string
	if d.Reparse {
		why = append(why, "a junction or symbolic link")
	}
	if d.Owner != SIDSystem && d.Owner != SIDAdministrators {
		why = append(why, "owned by "+d.Owner)
	}
	if d.NullDACL {
		why = append(why, "no DACL")
	}
	for _, a := range d.ACEs {
		if a.Allow && a.Mask != 0 && a.SID != SIDSystem && a.SID != SIDAdministrators {
			why = append(why, "grants access to "+a.SID)
		}
	}
	return why
}

// ErrUnsafeDataFolder is returned (wrapped) when the data folder cannot be
// made safe.
var ErrUnsafeDataFolder = errors.New("unsafe data folder")

// SecureDataFolder creates the data folder dir with DataFolderSDDL, or
// checks the existing one and everything in it: a folder with other
// permissions is reset to DataFolderSDDL, one owned by a user or a link is
// refused (ErrUnsafeDataFolder), and so is a file inside that is not
// right. list returns the paths inside dir at any depth (nil: all of
// them, links not followed). repaired lists what was wrong with a folder
// that was reset (the caller reports it: it may be an attack, or an
// older version's folder).
func SecureDataFolder(store SecurityStore, dir string, list func(dir string) ([]string, error)) (repaired []string, err error) {
	if list == nil {
		list = listTree
	}
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, fmt.Errorf("cannot create %s: %w", filepath.Dir(dir), err)
		}
		if err := store.CreateProtected(dir); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cannot create %s: %w (run from an elevated prompt)", dir, err)
		}
	}
	d, err := store.Descriptor(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the permissions of %s: %w", dir, err)
	}
	state, why := CheckDataFolder(d)
	switch state {
	case DataFolderRefused:
		return nil, fmt.Errorf("%w %s: %s; someone other than an administrator may have created it: check what is in it, delete it from an elevated prompt (rmdir /s \"%s\") and run again", ErrUnsafeDataFolder, dir, strings.Join(why, ", "), dir)
	case DataFolderRepair:
		if err := store.Protect(dir); err != nil {
			return nil, fmt.Errorf("%w %s (%s): cannot reset its permissions: %v; run from an elevated prompt, or delete the folder and run again", ErrUnsafeDataFolder, dir, strings.Join(why, ", "), err)
		}
		if d, err = store.Descriptor(dir); err != nil {
			return nil, fmt.Errorf("cannot read the permissions of %s: %w", dir, err)
		}
		if st, still := CheckDataFolder(d); st != DataFolderOK {
			return nil, fmt.Errorf("%w %s: still %s after resetting its permissions; delete it from an elevated prompt and run again", ErrUnsafeDataFolder, dir, strings.Join(still, ", "))
		}
		repaired = why
	}
	paths, err := list(dir)
	if err != nil {
		return repaired, fmt.Errorf("cannot list %s: %w", dir, err)
	}
	for _, p := range paths {
		fd, err := store.Descriptor(p)
		if err != nil {
			return repaired, fmt.Errorf("cannot read the permissions of %s: %w", p, err)
		}
		if why := CheckFile(fd); len(why) > 0 {
			return repaired, fmt.Errorf("%w: %s is %s; someone other than an administrator may have put it there: check it, delete it from an elevated prompt and run again", ErrUnsafeDataFolder, p, strings.Join(why, ", "))
		}
	}
	return repaired, nil
}

// ProgramName is the file name of the installed program.
const ProgramName = "evtxscan.exe"

// InstallProgram copies the running program self into dir (created if
// missing) as ProgramName, after checking that dir and its parent let
// only SYSTEM, Administrators and TrustedInstaller write, and checks the
// copy too. It returns the installed path. A program already at that path
// is not copied over itself. An unsafe location is refused with an error
// that says what to do; a refused copy is removed.
func InstallProgram(store SecurityStore, self, dir string) (string, error) {
	dest := filepath.Join(dir, ProgramName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cannot create %s: %w (run from an elevated prompt)", dir, err)
	}
	folder, err := store.Descriptor(dir)
	if err != nil {
		return "", fmt.Errorf("cannot read the permissions of %s: %w", dir, err)
	}
	parent, err := store.Descriptor(filepath.Dir(dir))
	if err != nil {
		return "", fmt.Errorf("cannot read the permissions of %s: %w", filepath.Dir(dir), err)
	}
	if err := CheckProgramLocation(dir, nil, folder, parent); err != nil {
		return "", err
	}
	if !samePath(self, dest) {
		if err := copyProgram(self, dest); err != nil {
			return "", err
		}
	}
	file, err := store.Descriptor(dest)
	if err != nil {
		return "", fmt.Errorf("cannot read the permissions of %s: %w", dest, err)
	}
	if err := CheckProgramLocation(dest, &file, folder, parent); err != nil {
		if !samePath(self, dest) {
			_ = os.Remove(dest)
		}
		return "", err
	}
	return dest, nil
}

// samePath compares two paths as Windows does (case-insensitively).
func samePath(a, b string) bool {
	return strings.EqualFold(filepath.Clean(a), filepath.Clean(b))
}

// copyProgram copies src to dest through a temporary file in dest's
// folder, renamed over dest once complete and flushed.
func copyProgram(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("cannot read this program (%s): %w", src, err)
	}
	defer in.Close()
	stage, err := replaceFile(dest, ".evtxscan-install-*.tmp", in)
	switch {
	case err == nil:
		return nil
	case stage == stageCreate:
		return fmt.Errorf("cannot write into %s: %w (run from an elevated prompt)", filepath.Dir(dest), err)
	case stage == stageRename:
		err = fmt.Errorf("%w (is the scheduled task running it? stop it with schtasks /End /TN \\evtxscan\\live and install again)", err)
	}
	return fmt.Errorf("cannot install %s: %w", dest, err)
}

// listTree returns every path inside dir, links not followed.
func listTree(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			paths = append(paths, path)
		}
		return nil
	})
	return paths, err
}
