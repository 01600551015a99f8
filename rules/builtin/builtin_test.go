package builtin

import (
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests check the pack as data, without the engine: names, required
// keys, cross-references and the house rules (no English message text, no
// Level alone). What the rules match is tested in ../builtin_test.go.

// requiredRuleIDs are the stable ids of the pack (rules-common.md); scenario
// fixtures and users' scripts name them.
var requiredRuleIDs = []string{
	"msi_uninstall_failed_status", "msi_removal_failed_message", "msi_uninstall_error_cause",
	"msi_rollback_inferred", "msi_rollback_failed", "msi_session_unterminated",
	"msi_upgrade_old_version_not_removed", "msi_cached_package_or_source_missing",
	"msi_uninstall_privilege_denied", "uninstall_service_teardown_failure", "uninstaller_crash_or_hang",
	"uninstall_reboot_pending_or_forced", "appx_removal_failed", "os_update_uninstall_failed",
	"security_product_uninstall", "msi_repeated_uninstall_attempts", "msi_win32_product_enumeration",
	"msi_operation_failed",
}

type packRule struct {
	Title          string         `yaml:"title"`
	ID             string         `yaml:"id"`
	Status         string         `yaml:"status"`
	Description    string         `yaml:"description"`
	References     []string       `yaml:"references"`
	Tags           []string       `yaml:"tags"`
	Logsource      map[string]any `yaml:"logsource"`
	Detection      map[string]any `yaml:"detection"`
	Correlation    *packCorr      `yaml:"correlation"`
	Fields         []string       `yaml:"fields"`
	FalsePositives []string       `yaml:"falsepositives"`
	Level          string         `yaml:"level"`
	Evtxscan       struct {
		Hidden       bool `yaml:"hidden"`
		SuppressedBy *struct {
			Rule   string   `yaml:"rule"`
			Fields []string `yaml:"fields"`
			Within string   `yaml:"within"`
		} `yaml:"suppressed_by"`
		LevelBy *struct {
			Field  string            `yaml:"field"`
			Levels map[string]string `yaml:"levels"`
		} `yaml:"level_by"`
	} `yaml:"evtxscan"`
}

type packCorr struct {
	Type      string         `yaml:"type"`
	Rules     []string       `yaml:"rules"`
	GroupBy   []string       `yaml:"group-by"`
	Timespan  string         `yaml:"timespan"`
	Condition map[string]any `yaml:"condition"`
}

type packFieldMap struct {
	FieldMap string                       `yaml:"fieldmap"`
	Provider string                       `yaml:"provider"`
	EventIDs []any                        `yaml:"event_ids"`
	Fields   map[string]string            `yaml:"fields"`
	Labels   map[string]map[string]string `yaml:"labels"`
}

var sigmaLevels = []string{"informational", "low", "medium", "high", "critical"}

func loadPackRules(t *testing.T) map[string]*packRule {
	t.Helper()
	names, err := fs.Glob(FS, "*.yml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no rules embedded: %v", err)
	}
	rules := map[string]*packRule{}
	for _, name := range names {
		data, err := FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "\n---") {
			t.Errorf("%s: one rule per file, found a second YAML document", name)
		}
		var r packRule
		if err := yaml.Unmarshal(data, &r); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want := strings.TrimSuffix(name, ".yml"); r.ID != want {
			t.Errorf("%s: id %q, want the file name %q", name, r.ID, want)
		}
		rules[r.ID] = &r
	}
	return rules
}

func TestPackHasEveryRuleID(t *testing.T) {
	rules := loadPackRules(t)
	for _, id := range requiredRuleIDs {
		r, ok := rules[id]
		if !ok {
			t.Errorf("rule %s is missing from the pack", id)
			continue
		}
		if r.Evtxscan.Hidden {
			t.Errorf("rule %s is hidden; only base_ rules may be", id)
		}
	}
}

func TestPackRuleMetadata(t *testing.T) {
	for id, r := range loadPackRules(t) {
		t.Run(id, func(t *testing.T) {
			if r.Title == "" || r.Description == "" {
				t.Errorf("title %q, description %q: both are required", r.Title, r.Description)
			}
			if strings.Contains(strings.TrimSpace(r.Description), "\n") {
				t.Errorf("description must be one line")
			}
			if !slices.Contains(sigmaLevels, r.Level) {
				t.Errorf("level %q, want one of %v", r.Level, sigmaLevels)
			}
			if len(r.Fields) == 0 {
				t.Errorf("no display fields: the report would show nothing but the title")
			}
			if len(r.References) == 0 {
				t.Errorf("no references")
			}
			for _, ref := range r.References {
				if !strings.HasPrefix(ref, "https://") {
					t.Errorf("reference %q is not a public https URL", ref)
				}
			}
			base := strings.HasPrefix(id, "base_")
			if base != r.Evtxscan.Hidden {
				t.Errorf("base_ prefix %v but hidden %v: helper rules are exactly the hidden ones", base, r.Evtxscan.Hidden)
			}
			if !base && len(r.FalsePositives) == 0 {
				t.Errorf("no falsepositives")
			}
			if (r.Detection == nil) == (r.Correlation == nil) {
				t.Errorf("a rule has either detection or correlation")
			}
			if r.Detection != nil && r.Logsource == nil {
				t.Errorf("detection without logsource")
			}
			if lb := r.Evtxscan.LevelBy; lb != nil {
				for v, l := range lb.Levels {
					if !slices.Contains(sigmaLevels, l) {
						t.Errorf("level_by %s=%s: unknown level", v, l)
					}
				}
			}
		})
	}
}

func TestPackCrossReferences(t *testing.T) {
	rules := loadPackRules(t)
	for id, r := range rules {
		if c := r.Correlation; c != nil {
			if len(c.Rules) == 0 || len(c.GroupBy) == 0 || c.Timespan == "" {
				t.Errorf("%s: correlation needs rules, group-by and timespan", id)
			}
			for _, ref := range c.Rules {
				if rules[ref] == nil {
					t.Errorf("%s: correlation refers to unknown rule %q", id, ref)
				}
			}
		}
		if s := r.Evtxscan.SuppressedBy; s != nil {
			if rules[s.Rule] == nil || s.Rule == id {
				t.Errorf("%s: suppressed_by names %q, which is not another rule of the pack", id, s.Rule)
			}
		}
	}
	// Every hidden rule feeds some correlation; an unused one is dead data.
	used := map[string]bool{}
	for _, r := range rules {
		if r.Correlation != nil {
			for _, ref := range r.Correlation.Rules {
				used[ref] = true
			}
		}
	}
	for id, r := range rules {
		if r.Evtxscan.Hidden && !used[id] {
			t.Errorf("%s is hidden but no correlation uses it", id)
		}
	}
}

// TestPackNeverMatchesEnglishOrLevelAlone enforces the two traps of
// uninstall-events.md C4/C5: messages are localized, and failed MSI
// operations are logged as Information.
func TestPackNeverMatchesEnglishOrLevelAlone(t *testing.T) {
	for id, r := range loadPackRules(t) {
		for name, sel := range r.Detection {
			if name == "condition" {
				continue
			}
			for _, m := range selectionMaps(sel) {
				var onlyLevel = len(m) > 0
				for key := range m {
					field := strings.SplitN(key, "|", 2)[0]
					if field == "Message" {
						t.Errorf("%s: selection %s matches Message (localized text)", id, name)
					}
					if field != "Level" {
						onlyLevel = false
					}
				}
				if onlyLevel && !strings.Contains(conditionText(r), "and") {
					t.Errorf("%s: selection %s uses Level alone and the condition has no and", id, name)
				}
			}
			if _, isList := sel.([]any); isList {
				for _, v := range sel.([]any) {
					if _, isMap := v.(map[string]any); !isMap {
						t.Errorf("%s: selection %s is a keyword list (free-text search over message values)", id, name)
						break
					}
				}
			}
		}
	}
}

func selectionMaps(sel any) []map[string]any {
	switch s := sel.(type) {
	case map[string]any:
		return []map[string]any{s}
	case []any:
		var out []map[string]any
		for _, v := range s {
			if m, ok := v.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func conditionText(r *packRule) string {
	s, _ := r.Detection["condition"].(string)
	return s
}

func TestSecurityRuleIsTaggedDefenseEvasion(t *testing.T) {
	r := loadPackRules(t)["security_product_uninstall"]
	if r == nil {
		t.Fatal("security_product_uninstall missing")
	}
	for _, tag := range []string{"attack.t1562.001", "attack.defense-evasion"} {
		if !slices.Contains(r.Tags, tag) {
			t.Errorf("tags %v lack %s", r.Tags, tag)
		}
	}
}

var fmCall = regexp.MustCompile(`^([a-z_0-9]+)\((.*)\)$`)

func TestFieldMaps(t *testing.T) {
	names, err := fs.Glob(FS, "fieldmaps/*.yml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no field maps embedded: %v", err)
	}
	seen := map[string]string{}
	for _, name := range names {
		t.Run(path.Base(name), func(t *testing.T) {
			data, err := FS.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var m packFieldMap
			if err := yaml.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(path.Base(name), ".yml"); m.FieldMap != want {
				t.Errorf("fieldmap %q, want the file name %q", m.FieldMap, want)
			}
			if prev, dup := seen[m.FieldMap]; dup {
				t.Errorf("fieldmap name %q also in %s", m.FieldMap, prev)
			}
			seen[m.FieldMap] = name
			if m.Provider == "" || len(m.EventIDs) == 0 || len(m.Fields) == 0 {
				t.Errorf("provider %q, %d event ids, %d fields: all are required", m.Provider, len(m.EventIDs), len(m.Fields))
			}
			for field, expr := range m.Fields {
				call := fmCall.FindStringSubmatch(strings.TrimSpace(expr))
				if call == nil || call[1] != "label" {
					continue
				}
				args := strings.Split(call[2], ",")
				if len(args) != 2 {
					t.Errorf("%s: label needs (field, table), got %q", field, expr)
					continue
				}
				if table := strings.TrimSpace(args[1]); m.Labels[table] == nil {
					t.Errorf("%s: label table %q is not defined in this map", field, table)
				}
			}
		})
	}
}

// TestReadmeListsThePack keeps README.md honest: every visible rule and
// every field map of the pack is listed there.
func TestReadmeListsThePack(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range loadPackRules(t) {
		if !r.Evtxscan.Hidden && !strings.Contains(string(readme), "`"+id+"`") {
			t.Errorf("README.md does not list rule %s", id)
		}
	}
	maps, _ := fs.Glob(FS, "fieldmaps/*.yml")
	for _, name := range maps {
		base := strings.TrimSuffix(path.Base(name), ".yml")
		short := strings.TrimPrefix(base, "service-control-manager")
		if !strings.Contains(string(readme), "`"+base+"`") && !strings.Contains(string(readme), "`…"+short+"`") {
			t.Errorf("README.md does not list field map %s", base)
		}
	}
}
