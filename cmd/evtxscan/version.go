package main

import (
	"runtime/debug"
	"strings"
)

// buildName names this build for --version and every report: the version
// (main.version when set by -ldflags "-X main.version=v1.2.3", else the
// module version Go stamped, else "dev"), then the VCS revision, its commit
// time and "modified" when the tree had uncommitted changes — what a reader
// of an old report needs to find the code that wrote it.
func buildName() string {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(version, info)
}

// describeBuild is buildName over a given build info (nil when the binary
// carries none).
func describeBuild(ldVersion string, info *debug.BuildInfo) string {
	v := ldVersion
	if v == "" && info != nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	var details []string
	if info != nil {
		var rev, at string
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			details = append(details, "revision "+rev)
		}
		if at != "" {
			details = append(details, at)
		}
		if modified {
			details = append(details, "modified")
		}
	}
	name := "evtxscan " + v
	if len(details) > 0 {
		name += " (" + strings.Join(details, ", ") + ")"
	}
	return name
}
