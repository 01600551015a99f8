package rules

import (
	"context"
	"io/fs"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

func TestRuleNeeds(t *testing.T) {
	tests := []struct {
		det  string
		want string // sorted keys, "" = not indexable
	}{
		{"    a:\n        - Image|endswith: '\\cmd.exe'\n        - OriginalFileName: 'Cmd.Exe'\n    b:\n        CommandLine|contains: ' /c '\n    condition: all of *\n",
			"Image base cmd.exe|OriginalFileName = cmd.exe"},
		{"    a:\n        Image|endswith: '\\x\\cmd.exe'\n    condition: a\n", ""}, // not a file name
		{"    a:\n        Image|endswith: 'cmd.exe'\n    condition: a\n", ""},      // no backslash
		{"    a:\n        Image: 'C:\\x.exe'\n    condition: not a\n", ""},         // negated
		{"    a:\n        User: alice\n    b:\n        User: bob\n    condition: a or b\n", "User = alice|User = bob"},
		{"    a:\n        User: alice\n    b:\n        Host|contains: x\n    condition: a or b\n", ""},
		{"    a:\n        User|cased: Alice\n    condition: a\n", ""},
		{"    a:\n        Provider_Name: MsiInstaller\n        Data|contains: x\n    condition: a\n", "Provider_Name = msiinstaller"},
	}
	for _, tt := range tests {
		rs := NewRuleset()
		_ = rs.AddBytes("n.yml", []byte(detectionRule(tt.det)))
		if sk := rs.Skipped(); len(sk) > 0 {
			t.Fatalf("refused: %v", sk[0])
		}
		keys, ok := ruleNeeds(rs.live[0].det.cond)
		var got []string
		for _, k := range keys {
			op := "="
			if k.base {
				op = "base"
			}
			got = append(got, k.field.name+" "+op+" "+k.lit)
		}
		sortStrings(got)
		s := strings.Join(got, "|")
		if !ok {
			s = ""
		}
		if s != tt.want {
			t.Errorf("needs of\n%s= %q, want %q", tt.det, s, tt.want)
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestPrefilterDifferential runs SigmaHQ and the pack with and without the
// pre-filter over synthetic process events and the corpus attack samples:
// the findings must be identical.
func TestPrefilterDifferential(t *testing.T) {
	shared := testenv.Shared(t)
	rs := NewRuleset()
	if err := rs.AddPath(filepath.Join(shared, "sigma", "rules")); err != nil {
		t.Fatal(err)
	}
	if err := rs.AddBuiltin(); err != nil {
		t.Fatal(err)
	}
	images := []string{`C:\Windows\System32\cmd.exe`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `C:\Windows\System32\rundll32.exe`,
		`C:\Windows\System32\wbem\WMIC.exe`, `C:\Windows\System32\msiexec.exe`, `C:\Windows\System32\reg.exe`, `C:\Windows\System32\certutil.exe`,
		`C:\Users\Public\x.exe`, `powershell.exe`, `C:\Windows\System32\net.exe`, `C:\Windows\System32\schtasks.exe`}
	cmds := []string{`/c whoami /all`, `-enc SQBFAFgA -nop -w hidden`, `javascript:"\..\mshtml,RunHTMLApplication"`, `product where name="x" call uninstall`,
		`/x {7BE25830-15EE-4797-A25F-DF614ACA9B8E} /qn`, `add HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run /v x /d y`, `-urlcache -split -f http://x/a.exe`,
		`user admin P@ss /add`, `/create /sc minute /tn x /tr c:\x.exe`, `-ExecutionPolicy Bypass -File C:\Users\Public\a.ps1`}
	rng := rand.New(rand.NewSource(11))
	var events []*parser.Event
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		img, cmd, parent := images[rng.Intn(len(images))], cmds[rng.Intn(len(cmds))], images[rng.Intn(len(images))]
		if i%2 == 0 {
			events = append(events, mkEvent("Security", "Microsoft-Windows-Security-Auditing", 4688, t0, "SubjectUserName=alice",
				"SubjectDomainName=CORP", "NewProcessId=0x10", "NewProcessName="+img, "ProcessId=0x20", "CommandLine="+img+" "+cmd, "ParentProcessName="+parent))
		} else {
			base := img[strings.LastIndexByte(img, '\\')+1:]
			events = append(events, mkEvent("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1, t0, "Image="+img,
				"OriginalFileName="+strings.ToUpper(base), "CommandLine="+base+" "+cmd, "ParentImage="+parent, `User=CORP\alice`, "IntegrityLevel=High"))
		}
		events[i].System.EventRecordID = uint64(i + 1)
	}
	events = append(events, eventMix()...)
	if !testing.Short() {
		root := filepath.Join(testenv.Corpus(t), "Yamato-Security+hayabusa-sample-evtx", "EVTX-ATTACK-SAMPLES")
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".evtx") {
				return nil
			}
			f, err := parser.Open(p, parser.Options{})
			if err != nil {
				return nil
			}
			defer f.Close()
			for ev, err := range f.Events(context.Background()) {
				if err == nil && ev != nil {
					events = append(events, ev)
				}
			}
			return nil
		})
	}
	ref, err := rs.NewEngine(withoutPrefilter())
	if err != nil {
		t.Fatal(err)
	}
	fast, err := rs.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	want, got := summarize(run(ref, events...)), summarize(run(fast, events...))
	if got != want {
		t.Fatalf("pre-filter changes the findings:\n%s", diffLines(got, want))
	}
	t.Logf("%d events, %d findings identical with and without the pre-filter", len(events), strings.Count(want, "\n")+1)
}
