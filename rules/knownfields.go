package rules

import (
	_ "embed"
	"strings"
	"sync"
)

// Field names rules lint knows, so it can warn on a name no event carries
// (EventId for EventID). They come from three places: the field maps, the
// Sigma taxonomy of each logsource category (sysmonFields: the Sysmon
// schema, whose names the taxonomy adopts), and the event data names seen
// in real logs, per channel (eventfields.txt, embedded, generated from the
// shared corpus by a test).

//go:embed eventfields.txt
var eventFieldsTxt string

// documentedFields are field names of events the corpus lacks, from the
// providers' event schemas (docs/uninstall-events.md for Servicing, whose
// lower-case names are older Windows'): channel → names. Keep it short:
// add a name only with the event that carries it.
var documentedFields = map[string]string{
	"Setup": "identifier currentPackageState currentPackageStateTextized targetPackageState targetPackageStateTextized intendedPackageState intendedPackageStateTextized client errorCode",
	// 3033/3034/3063/3064/3076/3077/3089
	"Microsoft-Windows-CodeIntegrity/Operational": "FileNameLength FileNameBuffer ProcessNameLength ProcessNameBuffer RequestedPolicy ValidatedPolicy Status RequestedSigningLevel ValidatedSigningLevel SignatureLevel PolicyName PolicyID PolicyGUID PolicyHash SHA1FlatHash SHA256FlatHash USN SI_SigningScenario UserWriteable PackageFamilyName",
	// 31001 and friends
	"Microsoft-Windows-SmbClient/Security": "ServerName ShareName UserName Reason Status ObjectName",
	// 1021-1024 (the schema spells EncyptionUsed so)
	"Microsoft-Windows-SmbServer/Connectivity": "ClientName ClientAddress UserName SessionId ShareName EncyptionUsed SigningUsed",
	// 30 (search statistics)
	"Microsoft-Windows-LDAP-Client/Debug": "SearchFilter DistinguishedName ScopeOfSearch AttributeList ProcessId",
	// 3002 (real-time protection error), 5013 (tamper protection)
	"Microsoft-Windows-Windows Defender/Operational": "Reason Value",
	// 4657 (registry value), 4697 (service installed), 4898/4899
	// (certificate template), WFP 5447
	"Security": "ObjectValueName OldValueType OldValue NewValueType NewValue OperationType ClientProcessId ParentProcessId TemplateContent NewTemplateContent FilterOrigin ProviderContextName",
	// Ntfs 55/98 (corruption), Iphlpsvc 4100 (ISATAP router)
	"System": "Origin Description Verb Outcome Signature Severity CorruptionState IsatapRouter",
}

// channelFields returns the embedded names per channel, with
// documentedFields.
var channelFields = sync.OnceValue(func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	defer func() {
		for ch, names := range documentedFields {
			if out[ch] == nil {
				out[ch] = map[string]bool{}
			}
			for _, n := range strings.Fields(names) {
				out[ch][n] = true
			}
		}
	}()
	for _, line := range strings.Split(eventFieldsTxt, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		ch, names, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		m := map[string]bool{}
		for _, n := range strings.Split(names, "\t") {
			m[n] = true
			if strings.IndexByte(n, ' ') >= 0 {
				for _, a := range spacedNameAliases(n) {
					m[a] = true
				}
			}
		}
		out[ch] = m
	}
	return out
})

// channelFieldsFold looks a channel up case-insensitively.
func channelFieldsFold(ch string) map[string]bool {
	all := channelFields()
	if m, ok := all[ch]; ok {
		return m
	}
	for k, m := range all {
		if strings.EqualFold(k, ch) {
			return m
		}
	}
	return nil
}

// sysmonFields are the EventData names of each Sysmon event id (schema
// 4.90), the field names of the Sigma taxonomy's Windows categories.
var sysmonFields = map[uint16]string{
	1:   "RuleName UtcTime ProcessGuid ProcessId Image FileVersion Description Product Company OriginalFileName CommandLine CurrentDirectory User LogonGuid LogonId TerminalSessionId IntegrityLevel Hashes ParentProcessGuid ParentProcessId ParentImage ParentCommandLine ParentUser",
	2:   "RuleName UtcTime ProcessGuid ProcessId Image TargetFilename CreationUtcTime PreviousCreationUtcTime User",
	3:   "RuleName UtcTime ProcessGuid ProcessId Image User Protocol Initiated SourceIsIpv6 SourceIp SourceHostname SourcePort SourcePortName DestinationIsIpv6 DestinationIp DestinationHostname DestinationPort DestinationPortName",
	4:   "UtcTime State Version SchemaVersion",
	5:   "RuleName UtcTime ProcessGuid ProcessId Image User",
	6:   "RuleName UtcTime ImageLoaded Hashes Signed Signature SignatureStatus",
	7:   "RuleName UtcTime ProcessGuid ProcessId Image ImageLoaded FileVersion Description Product Company OriginalFileName Hashes Signed Signature SignatureStatus User",
	8:   "RuleName UtcTime SourceProcessGuid SourceProcessId SourceImage TargetProcessGuid TargetProcessId TargetImage NewThreadId StartAddress StartModule StartFunction SourceUser TargetUser",
	9:   "RuleName UtcTime ProcessGuid ProcessId Image Device User",
	10:  "RuleName UtcTime SourceProcessGUID SourceProcessId SourceThreadId SourceImage TargetProcessGUID TargetProcessId TargetImage GrantedAccess CallTrace SourceUser TargetUser",
	11:  "RuleName UtcTime ProcessGuid ProcessId Image TargetFilename CreationUtcTime User",
	12:  "RuleName EventType UtcTime ProcessGuid ProcessId Image TargetObject User",
	13:  "RuleName EventType UtcTime ProcessGuid ProcessId Image TargetObject Details User",
	14:  "RuleName EventType UtcTime ProcessGuid ProcessId Image TargetObject NewName User",
	15:  "RuleName UtcTime ProcessGuid ProcessId Image TargetFilename CreationUtcTime Hash Contents User",
	16:  "UtcTime Configuration ConfigurationFileHash",
	17:  "RuleName EventType UtcTime ProcessGuid ProcessId PipeName Image User",
	18:  "RuleName EventType UtcTime ProcessGuid ProcessId PipeName Image User",
	19:  "RuleName EventType UtcTime Operation User EventNamespace Name Query",
	20:  "RuleName EventType UtcTime Operation User Name Type Destination",
	21:  "RuleName EventType UtcTime Operation User Consumer Filter",
	22:  "RuleName UtcTime ProcessGuid ProcessId QueryName QueryStatus QueryResults Image User",
	23:  "RuleName UtcTime ProcessGuid ProcessId User Image TargetFilename Hashes IsExecutable Archived",
	24:  "RuleName UtcTime ProcessGuid ProcessId Image Session ClientInfo Hashes Archived User",
	25:  "RuleName UtcTime ProcessGuid ProcessId Image Type User",
	26:  "RuleName UtcTime ProcessGuid ProcessId User Image TargetFilename Hashes IsExecutable",
	27:  "RuleName UtcTime ProcessGuid ProcessId User Image TargetFilename Hashes",
	28:  "RuleName UtcTime ProcessGuid ProcessId User Image TargetFilename Hashes IsExecutable",
	29:  "RuleName UtcTime ProcessGuid ProcessId User Image TargetFilename Hashes",
	255: "UtcTime ID Description",
}

// taxonomyExtra are names the Sigma taxonomy lists for process_creation
// beyond Sysmon's (hash fields some backends split out of Hashes).
var taxonomyExtra = []string{"imphash", "md5", "sha1", "sha256", "Imphash", "MD5", "SHA1", "SHA256", "Hash"}

// knownFieldSet is the set of field names a rule on srcs may use, and
// whether it is specific to those sources (false: the global set, used
// when nothing is known of the sources' channels).
func knownFieldSet(srcs []source, maps []*fieldMap) (map[string]bool, bool) {
	set := map[string]bool{}
	for k := range systemFields {
		set[k] = true
	}
	for _, m := range maps {
		for _, n := range m.names {
			set[n] = true
		}
	}
	specific := len(srcs) > 0
	for _, s := range srcs {
		switch {
		case s.channel == "":
			specific = false
		case strings.EqualFold(s.channel, chSysmon) && s.ids != nil:
			for _, id := range s.ids {
				for _, n := range strings.Fields(sysmonFields[id]) {
					set[n] = true
				}
			}
			for _, n := range taxonomyExtra {
				set[n] = true
			}
		case s.security4688:
			for n := range procCreationOn4688 {
				set[n] = true
			}
			for _, n := range taxonomyExtra {
				set[n] = true
			}
		default:
			names := channelFieldsFold(s.channel)
			if names == nil {
				specific = false
			}
			for n := range names {
				set[n] = true
			}
		}
	}
	if !specific {
		for _, names := range channelFields() {
			for n := range names {
				set[n] = true
			}
		}
		for _, f := range sysmonFields {
			for _, n := range strings.Fields(f) {
				set[n] = true
			}
		}
		for n := range procCreationOn4688 {
			set[n] = true
		}
		for _, n := range taxonomyExtra {
			set[n] = true
		}
	}
	return set, specific
}
