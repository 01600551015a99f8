package rules

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// A source is one (channel, event ids) pair a detection rule applies to.
// An empty channel means every channel; nil ids mean every event id.
type source struct {
	channel string
	ids     []uint16
	// security4688 marks the Security 4688 variant of process_creation,
	// whose fields are renamed from Sysmon's (see procCreationOn4688).
	security4688 bool
}

const (
	chSysmon     = "Microsoft-Windows-Sysmon/Operational"
	chSecurity   = "Security"
	chPowerShell = "Microsoft-Windows-PowerShell/Operational"
	chPSCore     = "PowerShellCore/Operational"
	chPSClassic  = "Windows PowerShell"
)

// serviceChannels maps `product: windows` + `service:` to channels, after
// the Sigma taxonomy appendix (plus the few service names SigmaHQ rules use
// that the appendix lacks).
var serviceChannels = map[string][]string{
	"application":            {"Application"},
	"application-experience": {"Microsoft-Windows-Application-Experience/Program-Telemetry", "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant"},
	"applocker":              {"Microsoft-Windows-AppLocker/MSI and Script", "Microsoft-Windows-AppLocker/EXE and DLL", "Microsoft-Windows-AppLocker/Packaged app-Deployment", "Microsoft-Windows-AppLocker/Packaged app-Execution"},
	"appmodel-runtime":       {"Microsoft-Windows-AppModel-Runtime/Admin"},
	"appxdeployment-server":  {"Microsoft-Windows-AppXDeploymentServer/Operational"},
	"appxpackaging-om":       {"Microsoft-Windows-AppxPackaging/Operational"},
	"bitlocker":              {"Microsoft-Windows-BitLocker/BitLocker Management"},
	"bits-client":            {"Microsoft-Windows-Bits-Client/Operational"},
	"capi2":                  {"Microsoft-Windows-CAPI2/Operational"},
	"certificateservicesclient-lifecycle-system": {"Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"},
	"codeintegrity-operational":                  {"Microsoft-Windows-CodeIntegrity/Operational"},
	"dhcp":                                       {"Microsoft-Windows-DHCP-Server/Operational"},
	"diagnosis-scripted":                         {"Microsoft-Windows-Diagnosis-Scripted/Operational"},
	"dns-client":                                 {"Microsoft-Windows-DNS Client Events/Operational"},
	"dns-server":                                 {"DNS Server"},
	"dns-server-analytic":                        {"Microsoft-Windows-DNS-Server/Analytical"},
	"dns-server-audit":                           {"Microsoft-Windows-DNS-Server/Audit"},
	"driver-framework":                           {"Microsoft-Windows-DriverFrameworks-UserMode/Operational"},
	"firewall-as":                                {"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"},
	"hyper-v-worker":                             {"Microsoft-Windows-Hyper-V-Worker"},
	"iis-configuration":                          {"Microsoft-IIS-Configuration/Operational"},
	"kernel-event-tracing":                       {"Microsoft-Windows-Kernel-EventTracing"},
	"kernel-shimengine":                          {"Microsoft-Windows-Kernel-ShimEngine/Operational", "Microsoft-Windows-Kernel-ShimEngine/Diagnostic"},
	"ldap":                                       {"Microsoft-Windows-LDAP-Client/Debug"},
	"lsa-server":                                 {"Microsoft-Windows-LSA/Operational"},
	"msexchange-management":                      {"MSExchange Management"},
	"ntfs":                                       {"Microsoft-Windows-Ntfs/Operational"},
	"ntlm":                                       {"Microsoft-Windows-NTLM/Operational"},
	"openssh":                                    {"OpenSSH/Operational"},
	"powershell":                                 {chPowerShell},
	"powershell-classic":                         {chPSClassic},
	"printservice-admin":                         {"Microsoft-Windows-PrintService/Admin"},
	"printservice-operational":                   {"Microsoft-Windows-PrintService/Operational"},
	"security":                                   {chSecurity},
	"security-mitigations":                       {"Microsoft-Windows-Security-Mitigations/Kernel Mode", "Microsoft-Windows-Security-Mitigations/User Mode"},
	"sense":                                      {"Microsoft-Windows-SENSE/Operational"},
	"servicebus-client":                          {"Microsoft-ServiceBus-Client/Operational", "Microsoft-ServiceBus-Client/Admin"},
	"microsoft-servicebus-client":                {"Microsoft-ServiceBus-Client/Operational", "Microsoft-ServiceBus-Client/Admin"},
	"setup":                                      {"Setup"},
	"shell-core":                                 {"Microsoft-Windows-Shell-Core/Operational"},
	"smbclient-security":                         {"Microsoft-Windows-SmbClient/Security"},
	"smbclient-connectivity":                     {"Microsoft-Windows-SmbClient/Connectivity"},
	"smbserver-connectivity":                     {"Microsoft-Windows-SmbServer/Connectivity"},
	"sysmon":                                     {chSysmon},
	"system":                                     {"System"},
	"taskscheduler":                              {"Microsoft-Windows-TaskScheduler/Operational"},
	"terminalservices-localsessionmanager":       {"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"},
	"vhdmp":                                      {"Microsoft-Windows-VHDMP/Operational"},
	"windefend":                                  {"Microsoft-Windows-Windows Defender/Operational"},
	"wmi":                                        {"Microsoft-Windows-WMI-Activity/Operational"},
}

// categorySources maps `product: windows` + `category:` to channels and
// event ids, after the Sigma taxonomy appendix. process_creation also reads
// Security 4688 with its own field names.
var categorySources = map[string][]source{
	"process_creation":          {{channel: chSysmon, ids: []uint16{1}}, {channel: chSecurity, ids: []uint16{4688}, security4688: true}},
	"file_change":               {{channel: chSysmon, ids: []uint16{2}}},
	"network_connection":        {{channel: chSysmon, ids: []uint16{3}}},
	"sysmon_status":             {{channel: chSysmon, ids: []uint16{4, 16}}},
	"process_termination":       {{channel: chSysmon, ids: []uint16{5}}},
	"driver_load":               {{channel: chSysmon, ids: []uint16{6}}},
	"image_load":                {{channel: chSysmon, ids: []uint16{7}}},
	"create_remote_thread":      {{channel: chSysmon, ids: []uint16{8}}},
	"raw_access_thread":         {{channel: chSysmon, ids: []uint16{9}}},
	"process_access":            {{channel: chSysmon, ids: []uint16{10}}},
	"file_event":                {{channel: chSysmon, ids: []uint16{11}}},
	"registry_event":            {{channel: chSysmon, ids: []uint16{12, 13, 14}}},
	"registry_add":              {{channel: chSysmon, ids: []uint16{12}}},
	"registry_delete":           {{channel: chSysmon, ids: []uint16{12}}},
	"registry_set":              {{channel: chSysmon, ids: []uint16{13}}},
	"registry_rename":           {{channel: chSysmon, ids: []uint16{14}}},
	"create_stream_hash":        {{channel: chSysmon, ids: []uint16{15}}},
	"pipe_created":              {{channel: chSysmon, ids: []uint16{17, 18}}},
	"wmi_event":                 {{channel: chSysmon, ids: []uint16{19, 20, 21}}},
	"dns_query":                 {{channel: chSysmon, ids: []uint16{22}}},
	"file_delete":               {{channel: chSysmon, ids: []uint16{23}}},
	"clipboard_capture":         {{channel: chSysmon, ids: []uint16{24}}},
	"process_tampering":         {{channel: chSysmon, ids: []uint16{25}}},
	"file_delete_detected":      {{channel: chSysmon, ids: []uint16{26}}},
	"file_block_executable":     {{channel: chSysmon, ids: []uint16{27}}},
	"file_block_shredding":      {{channel: chSysmon, ids: []uint16{28}}},
	"file_executable_detected":  {{channel: chSysmon, ids: []uint16{29}}},
	"sysmon_error":              {{channel: chSysmon, ids: []uint16{255}}},
	"ps_classic_start":          {{channel: chPSClassic, ids: []uint16{400}}},
	"ps_classic_provider_start": {{channel: chPSClassic, ids: []uint16{600}}},
	"ps_classic_script":         {{channel: chPSClassic, ids: []uint16{800}}},
	"ps_module":                 {{channel: chPowerShell, ids: []uint16{4103}}, {channel: chPSCore, ids: []uint16{4103}}},
	"ps_script":                 {{channel: chPowerShell, ids: []uint16{4104}}, {channel: chPSCore, ids: []uint16{4104}}},
}

// sigmaUnmappedCategories are log source categories of the Sigma taxonomy
// that no Windows event log carries (ETW-only file events, and the generic
// categories of other products): a rule using one is valid Sigma that
// evtxscan cannot run.
var sigmaUnmappedCategories = map[string]bool{
	"file_access": true, "file_rename": true, "antivirus": true, "database": true, "dns": true,
	"firewall": true, "proxy": true, "webserver": true, "network": true, "application": true,
}

// parseLogsource turns a logsource mapping into the sources a rule applies
// to. A rule that cannot apply to Windows event logs is refused, so that
// the loaded count is honest: as broken (an error) when a name is one edit
// or two away from a known one or case differs (a typo), else as
// unsupported (valid Sigma for another product or log source).
func parseLogsource(de *docErrors, n *yaml.Node) []source {
	if n.Kind != yaml.MappingNode {
		de.at(n, "logsource must be a mapping {product, service, category}")
		return nil
	}
	kv := mapKeys(n)
	product := strings.ToLower(scalarOr(kv["product"], "windows"))
	service := strings.ToLower(scalarOr(kv["service"], ""))
	category := strings.ToLower(scalarOr(kv["category"], ""))
	if product != "windows" {
		if s := suggest(product, []string{"windows"}); s != "" {
			de.at(kv["product"], "unknown logsource product %q (did you mean windows?)", scalarOr(kv["product"], ""))
		} else {
			de.unsupported(kv["product"], "unsupported-logsource", "logsource product %q: evtxscan reads Windows event logs only (rule skipped)", product)
		}
		return nil
	}
	var out []source
	switch {
	case category != "":
		srcs, ok := categorySources[category]
		if !ok {
			unknownLogsource(de, kv["category"], "category", category, categorySources)
			return nil
		}
		out = append(out, srcs...)
		if service != "" {
			chans, ok := serviceChannels[service]
			if !ok {
				unknownLogsource(de, kv["service"], "service", service, serviceChannels)
				return nil
			}
			out = keepChannels(out, chans)
			if len(out) == 0 {
				de.at(n, "logsource category %q and service %q share no channel", category, service)
			}
		}
	case service != "":
		chans, ok := serviceChannels[service]
		if !ok {
			unknownLogsource(de, kv["service"], "service", service, serviceChannels)
			return nil
		}
		for _, c := range chans {
			out = append(out, source{channel: c})
		}
	default:
		out = append(out, source{}) // product: windows alone: every channel
	}
	return out
}

// unknownLogsource refuses an unmapped category or service: a near miss of
// a known name is a typo (error), anything else a log source evtxscan does
// not map (unsupported).
func unknownLogsource[V any](de *docErrors, n *yaml.Node, what, name string, known map[string]V) {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	if s := suggest(name, names); s != "" && !sigmaUnmappedCategories[name] {
		de.at(n, "unknown logsource %s %q (did you mean %s?)", what, name, s)
		return
	}
	de.unsupported(n, "unsupported-logsource", "logsource %s %q is not one evtxscan maps to an event log channel (rule skipped; known: %s)", what, name, knownKeys(known))
}

func keepChannels(srcs []source, chans []string) []source {
	var out []source
	for _, s := range srcs {
		for _, c := range chans {
			if strings.EqualFold(s.channel, c) {
				out = append(out, s)
			}
		}
	}
	return out
}

func knownKeys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) > 12 {
		ks = append(ks[:12], "…")
	}
	return strings.Join(ks, ", ")
}

// procCreationOn4688 renames the Sysmon process_creation field names of the
// taxonomy to what Security 4688 carries. Fields 4688 lacks (Hashes,
// OriginalFileName, ParentCommandLine, …) are absent on 4688 events.
var procCreationOn4688 = map[string]fieldConv{
	"Image":             {name: "NewProcessName"},
	"ParentImage":       {name: "ParentProcessName"},
	"CommandLine":       {name: "CommandLine"},
	"ProcessId":         {name: "NewProcessId", conv: convHexToDec},
	"ParentProcessId":   {name: "ProcessId", conv: convHexToDec},
	"User":              {name: "SubjectUserName", conv: convDomainUser},
	"LogonId":           {name: "SubjectLogonId"},
	"IntegrityLevel":    {name: "MandatoryLabel", conv: convIntegrityLabel},
	"OriginalFileName":  {absent: true},
	"Hashes":            {absent: true},
	"ParentCommandLine": {absent: true},
	"CurrentDirectory":  {absent: true},
	"Product":           {absent: true},
	"Company":           {absent: true},
	"Description":       {absent: true},
	"FileVersion":       {absent: true},
	"ProcessGuid":       {absent: true},
	"ParentProcessGuid": {absent: true},
	"LogonGuid":         {absent: true},
	"ParentUser":        {absent: true},
	"TerminalSessionId": {absent: true},
}

// A fieldConv is how a taxonomy field name reads on another event layout.
type fieldConv struct {
	name   string
	id     int32 // interned name
	conv   convKind
	absent bool
}

var subjectDomainID = internField("SubjectDomainName")

func init() {
	for k, fc := range procCreationOn4688 {
		if !fc.absent {
			fc.id = internField(fc.name)
			procCreationOn4688[k] = fc
		}
	}
}

type convKind uint8

const (
	convNone           convKind = iota
	convHexToDec                // "0x1a2c" → "6700"
	convDomainUser              // SubjectDomainName\SubjectUserName, as Sysmon's User
	convIntegrityLabel          // S-1-16-12288 → High
)
