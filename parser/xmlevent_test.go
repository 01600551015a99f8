package parser

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// xmlSummary is what the rendered-XML table pins for one event: the whole
// System section, the EventData shape, Binary, UserData and the
// pre-rendered message.
type xmlSummary struct {
	System   string // see systemSummary
	Data     int    // number of EventData fields
	First    string // first EventData field as key=value
	Last     string // last EventData field as key=value
	Binary   string // len:first 16 hex digits
	UserData string // root name/number of children
	Message  string // first 40 bytes of RenderedMessage
}

func systemSummary(s *System) string {
	q := "-"
	if s.HasQualifiers {
		q = fmt.Sprint(s.Qualifiers)
	}
	tm := ""
	if !s.TimeCreated.IsZero() {
		tm = s.TimeCreated.Format("2006-01-02T15:04:05.0000000Z")
	}
	return fmt.Sprintf("%s|%s|%s|%d|q%s|v%d|l%d|t%d|o%d|k%#x|%s|r%d|%s|%d/%d|%s|%s|%s|x%d",
		s.Provider, s.ProviderGUID, s.EventSourceName, s.EventID, q, s.Version, s.Level, s.Task, s.Opcode, s.Keywords,
		tm, s.EventRecordID, s.ActivityID, s.ProcessID, s.ThreadID, s.Channel, s.Computer, s.UserID, len(s.Extra))
}

func summarize(ev *Event) xmlSummary {
	var got xmlSummary
	got.System = systemSummary(&ev.System)
	got.Data = len(ev.EventData)
	if n := len(ev.EventData); n > 0 {
		got.First = ev.DataKey(0) + "=" + ev.EventData[0].Value
		got.Last = ev.DataKey(n-1) + "=" + ev.EventData[n-1].Value
	}
	if ev.Binary != nil {
		h := hex.EncodeToString(ev.Binary)
		got.Binary = fmt.Sprintf("%d:%.16s", len(ev.Binary), h)
	}
	if ev.UserData != nil {
		got.UserData = fmt.Sprintf("%s/%d", ev.UserData.Name, len(ev.UserData.Children))
	}
	if len(ev.RenderedMessage) > 40 {
		got.Message = ev.RenderedMessage[:40]
	} else {
		got.Message = ev.RenderedMessage
	}
	return got
}

// renderedXMLWant pins every file of ../shared/data/rendered-xml (Windows
// renderings; see SOURCES.md there). Values were checked against the files
// by hand; GUIDs are upper-cased by System.SetField, the rest is verbatim.
var renderedXMLWant = map[string]xmlSummary{
	"Application_Error_1000_1.xml": {
		System: "Application Error|||1000|q0|v0|l2|t100|o0|k0x80000000000000|2019-01-01T15:49:38.9733422Z|r6724||0/0|Application|WD0000.eu.windows.com||x0",
		Data:   15, First: "Data[1]=IntelAudioService.exe", Last: "Data[15]=",
		Binary: "", UserData: "", Message: "",
	},
	"Application_Error_1000_2.xml": {
		System: "Application Error|||1000|q0|v0|l2|t100|o0|k0x80000000000000|2010-09-12T16:57:47.0000000Z|r1157||0/0|Application|Web4||x0",
		Data:   13, First: "Data[1]=w3wp.exe", Last: "Data[13]=de3deda2-be8e-11df-a35d-0014227b743d",
		Binary: "", UserData: "", Message: "",
	},
	"Application_Error_1000_3.xml": {
		System: "Application Error|{A0E9B465-B939-57D7-B27D-95D8E925FF57}||1000|q-|v0|l2|t100|o0|k0x8000000000000000|2026-01-22T01:01:56.1806364Z|r5007||8404/19116|Application|AorusX870E|S-1-5-21-97673550-4160431826-3737378671-1001|x0",
		Data:   15, First: "AppName=python.exe", Last: "PackageRelativeAppId=",
		Binary: "", UserData: "", Message: "",
	},
	"Application_Error_1000_4.xml": {
		System: "Application Error|{A0E9B465-B939-57D7-B27D-95D8E925FF57}||1000|q-|v0|l2|t100|o0|k0x8000000000000000|2024-10-31T18:56:48.7286094Z|r436640||34448/19656|Application|LVIV-L80768.IMPRIVATA.com|S-1-5-21-1753436933-4115783883-2094863134-1001|x0",
		Data:   15, First: "AppName=optional.exe", Last: "PackageRelativeAppId=",
		Binary: "", UserData: "", Message: "",
	},
	"EventLog_6008_1.xml": {
		System: "EventLog|||6008|q32768|v0|l2|t0|o0|k0x80000000000000|2008-11-28T12:06:32.0000000Z|r19633||0/0|System|nlcutxd-PC||x0",
		Data:   7, First: "Data[1]=12:05:37", Last: "Data[7]=",
		Binary: "64:d8070b0005001c00", UserData: "", Message: "",
	},
	"EventLog_6008_2.xml": {
		System: "EventLog|||6008|q32768|v0|l2|t0|o0|k0x80000000000000|2025-11-25T15:33:46.3051443Z|r139000||3092/4012|System|TOOTHLESS||x0",
		Data:   7, First: "Data[1]=10:23:28 AM", Last: "Data[7]=",
		Binary: "64:e9070b0002001900", UserData: "", Message: "",
	},
	"Microsoft-Windows-Eventlog_1102_1.xml": {
		System: "Microsoft-Windows-Eventlog|{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}||1102|q-|v1|l4|t104|o0|k0x4020000000000000|2023-10-12T10:38:24.5435062Z|r2590526||1472/7784|Security|test.example.com|test_user|x0",
		Data:   0, First: "", Last: "",
		Binary: "", UserData: "LogFileCleared/6", Message: "",
	},
	"Microsoft-Windows-Eventlog_1102_2.xml": {
		System: "Microsoft-Windows-Eventlog|{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}||1102|q-|v0|l4|t104|o0|k0x4020000000000000|2015-10-16T00:39:58.6568712Z|r1087729||820/2644|Security|DC01.contoso.local||x0",
		Data:   0, First: "", Last: "",
		Binary: "", UserData: "LogFileCleared/4", Message: "",
	},
	"Microsoft-Windows-Security-Auditing_4624_1.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4624|q-|v2|l0|t12544|o0|k0x8020000000000000|2015-11-12T00:24:35.0797852Z|r211|{00D66690-1CDF-0000-AC66-D600DF1CD101}|716/760|Security|WIN-GG82ULGC9GO||x0",
		Data:   27, First: "SubjectUserSid=S-1-5-18", Last: "ElevatedToken=%%1842",
		Binary: "", UserData: "", Message: "",
	},
	"Microsoft-Windows-Security-Auditing_4624_2.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4624|q-|v3|l0|t12544|o0|k0x8020000000000000|2026-03-16T15:52:09.5166341Z|r1298116|{11111111-1111-1111-1111-111111111111}|808/5460|Security|computer||x0",
		Data:   28, First: "SubjectUserSid=S-1-5-18", Last: "ElevatedToken=%%1842",
		Binary: "", UserData: "", Message: "An account was successfully logged on.\r\n",
	},
	"Microsoft-Windows-Security-Auditing_4624_3.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4624|q-|v0|l0|t12544|o0|k0x8020000000000000|2019-10-25T22:25:44.6421617Z|r9165||544/1096|Security|LAB-PC||x0",
		Data:   20, First: "SubjectUserSid=S-1-0-0", Last: "IpPort=7458",
		Binary: "", UserData: "", Message: "",
	},
	"Microsoft-Windows-Security-Auditing_4624_4.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4624|q-|v3|l0|t12544|o0|k0x8020000000000000|2024-03-14T13:54:19.3628662Z|r1446|{B073A4BF-7611-0000-BCA5-73B01176DA01}|780/2832|Security|WKS10001||x0",
		Data:   28, First: "SubjectUserSid=S-1-5-18", Last: "ElevatedToken=%%1842",
		Binary: "", UserData: "", Message: "An account was successfully logged on.\r\n",
	},
	"Microsoft-Windows-Security-Auditing_4624_5.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4624|q-|v2|l0|t12544|o0|k0x8020000000000000|2019-06-13T09:21:23.3458896Z|r80688|{587F0743-1F71-0006-5007-7F58711FD501}|912/24708|Security|Fluentd-Developing-Windows||x0",
		Data:   27, First: "SubjectUserSid=S-1-5-18", Last: "ElevatedToken=%%1842",
		Binary: "", UserData: "", Message: "",
	},
	"Microsoft-Windows-Security-Auditing_4688_1.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4688|q-|v2|l0|t13312|o0|k0x8020000000000000|2015-11-12T02:24:52.3773525Z|r2814||4/400|Security|WIN-GG82ULGC9GO.contoso.local||x0",
		Data:   15, First: "SubjectUserSid=S-1-5-18", Last: "MandatoryLabel=S-1-16-8192",
		Binary: "", UserData: "", Message: "",
	},
	"Microsoft-Windows-Security-Auditing_4688_2.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4688|q-|v2|l0|t13312|o0|k0x8020000000000000|2019-02-06T20:34:57.9109807Z|r3542561||4/92|Security|atc-win-10.atc.local||x0",
		Data:   15, First: "SubjectUserSid=S-1-5-21-540864798-2899685673-3651185163-500", Last: "MandatoryLabel=S-1-16-12288",
		Binary: "", UserData: "", Message: "",
	},
	"Microsoft-Windows-Security-Auditing_4688_3.xml": {
		System: "Microsoft-Windows-Security-Auditing|{54849625-5478-4994-A5BA-3E3B0328C30D}||4688|q-|v2|l0|t13312|o0|k0x8020000000000000|2022-12-14T16:06:51.0643605Z|r114689||4/196|Security|win10.windomain.local||x0",
		Data:   15, First: "SubjectUserSid=S-1-5-18", Last: "MandatoryLabel=S-1-16-16384",
		Binary: "", UserData: "", Message: "A new process has been created.\n\nCreator",
	},
	"Microsoft-Windows-WindowsUpdateClient_19_1.xml": {
		System: "Microsoft-Windows-WindowsUpdateClient|{945A8954-C147-4ACD-923F-40C45405A658}||19|q-|v1|l4|t1|o13|k0x8000000000000018|2021-01-20T13:57:52.6827027Z|r2893||3148/3440|System|WinDev2012Eval|S-1-5-18|x0",
		Data:   4, First: "updateTitle=Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.329.2528.0)", Last: "serviceGuid={9482f4b4-e343-43b6-b170-9a65bc822c77}",
		Binary: "", UserData: "", Message: "",
	},
	"Microsoft-Windows-WindowsUpdateClient_19_2.xml": {
		System: "Microsoft-Windows-WindowsUpdateClient|{945A8954-C147-4ACD-923F-40C45405A658}||19|q-|v1|l4|t1|o13|k0x8000000000000018|2022-09-30T13:44:36.6772228Z|r1868||11216/11400|System|DESKTOP-U86BVDJ|S-1-5-18|x0",
		Data:   4, First: "updateTitle=Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.375.1243.0)", Last: "serviceGuid={9482f4b4-e343-43b6-b170-9a65bc822c77}",
		Binary: "", UserData: "", Message: "",
	},
	"Microsoft-Windows-WindowsUpdateClient_20_1.xml": {
		System: "Microsoft-Windows-WindowsUpdateClient|{945A8954-C147-4ACD-923F-40C45405A658}||20|q-|v1|l2|t0|o0|k0x0||r0||0/0|System|||x0",
		Data:   4, First: "errorCode=0x80073d02", Last: "updateRevisionNumber=1",
		Binary: "", UserData: "", Message: "",
	},
	"MsiInstaller_10005_1.xml": {
		System: "MsiInstaller|||10005|q0|v0|l2|t0|o0|k0x80000000000000|2025-10-18T03:27:03.2045014Z|r3142||12620/0|Application|DESKTOP-6GJ1UKP|S-1-5-21-587828671-3161101140-2418918798-1001|x0",
		Data:   6, First: "Data[1]=Product: ZipLock Password Manager -- The installer has encountered an unexpected error installing this package. This may indicate a problem with this package. The error code is 2762. The arguments are: , ,", Last: "Data[6]=(NULL)",
		Binary: "38:7b46434630363735", UserData: "", Message: "",
	},
	"MsiInstaller_1033_1.xml": {
		System: "MsiInstaller|||1033|q0|v0|l4|t0|o0|k0x80000000000000|2023-10-11T23:01:44.3206723Z|r275||4112/0|Application|7ca889e3-3095-4631-8a5d-84887a2522e1|S-1-5-21-2047949552-857980807-821054962-504|x0",
		Data:   7, First: "Data[1]=Microsoft Azure Service Fabric SDK", Last: "Data[7]=",
		Binary: "82:7b30443546313538", UserData: "", Message: "",
	},
	"MsiInstaller_1033_2.xml": {
		System: "MsiInstaller|||1033|q0|v0|l4|t0|o0|k0x80000000000000|2024-07-15T15:55:57.7297984Z|r2373||0/0|Application|DESKTOP-EKVR84B|S-1-5-21-3576963320-1344788273-4164204335-1001|x0",
		Data:   7, First: "Data[1]=Totally_Legit_Software", Last: "Data[7]=",
		Binary: "82:7b33443343333833", UserData: "", Message: "",
	},
	"MsiInstaller_1040_1.xml": {
		System: "MsiInstaller|||1040|q0|v0|l4|t0|o0|k0x80000000000000|2024-07-15T15:55:55.9707879Z|r2370||0/0|Application|DESKTOP-EKVR84B|S-1-5-21-3576963320-1344788273-4164204335-1001|x0",
		Data:   7, First: "Data[1]=C:\\Users\\user\\Desktop\\Totally_Legit_Software.msi", Last: "Data[7]=",
		Binary: "", UserData: "", Message: "",
	},
	"MsiInstaller_11708_1.xml": {
		System: "MsiInstaller|||11708|q0|v0|l4|t0|o0|k0x0||r0||0/0|Application|||x0",
		Data:   4, First: "Data[1]=Product: Zoom VDI Plugin Management(64bit) -- Installation failed.", Last: "Data[4]=(NULL)",
		Binary: "6:7b4432383537", UserData: "", Message: "",
	},
	"Service_Control_Manager_7000_1.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7000|q49152|v0|l2|t0|o0|k0x8080000000000000|2020-12-30T07:54:53.8053467Z|r6116||944/2076|System|Servername||x0",
		Data:   2, First: "param1=SQL Server (MSSQLSERVER)", Last: "param2=%%2",
		Binary: "24:4d00530053005100", UserData: "", Message: "",
	},
	"Service_Control_Manager_7036_1.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7036|q16384|v0|l4|t0|o0|k0x8080000000000000|2026-03-16T15:49:02.0784174Z|r17353||788/4396|System|computer||x0",
		Data:   2, First: "param1=Software Protection", Last: "param2=running",
		Binary: "18:7300700070007300", UserData: "", Message: "The Software Protection service entered ",
	},
	"Service_Control_Manager_7036_2.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7036|q16384|v0|l4|t0|o0|k0x8080000000000000|2016-06-10T22:28:53.9052337Z|r34153||684/3504|System|WIN-O05CNUCF16M.hdf.local||x0",
		Data:   2, First: "param1=Smart Card Device Enumeration Service", Last: "param2=running",
		Binary: "30:5300630044006500", UserData: "", Message: "",
	},
	"Service_Control_Manager_7036_3.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7036|q16384|v0|l4|t0|o0|k0x8080000000000000|2019-01-12T16:00:11.9200206Z|r41452||692/828|System|EC2AMAZ-D6OFVS8||x0",
		Data:   2, First: "param1=Device Install Service", Last: "param2=running",
		Binary: "32:4400650076006900", UserData: "", Message: "",
	},
	"Service_Control_Manager_7036_4.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7036|q16384|v0|l4|t0|o0|k0x8080000000000000|2013-08-22T14:51:44.2056673Z|r2||516/1792|System|windows-n7iefg2||x0",
		Data:   2, First: "param1=Windows Event Log", Last: "param2=stopped",
		Binary: "22:4500760065006e00", UserData: "", Message: "",
	},
	"Service_Control_Manager_7036_5.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7036|q16384|v0|l4|t0|o0|k0x8080000000000000|2023-05-22T14:43:53.1670895Z|r64199||776/5788|System|EC2AMAZ-25GMQOK||x0",
		Data:   2, First: "param1=AppX Deployment Service (AppXSVC)", Last: "param2=running",
		Binary: "20:4100700070005800", UserData: "", Message: "The AppX Deployment Service (AppXSVC) se",
	},
	"Service_Control_Manager_7045_1.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7045|q16384|v0|l4|t0|o0|k0x8080000000000000|2017-07-02T15:48:56.2567529Z|r762||568/1792|System|DESKTOP|S-1-5-21-2073602604-586167410-2329295167-1001|x0",
		Data:   5, First: "ServiceName=sshd", Last: "AccountName=LocalSystem",
		Binary: "", UserData: "", Message: "",
	},
	"Service_Control_Manager_7045_2.xml": {
		System: "Service Control Manager|{555908D1-A6D7-4695-8E1E-26931D2012F4}|Service Control Manager|7045|q16384|v0|l4|t0|o0|k0x8080000000000000|2019-10-25T22:25:44.6733617Z|r8281||536/124|System|LAB-PC|S-1-5-21-1473577449-155250460-3656573160-1000|x0",
		Data:   5, First: "ServiceName=PSEXESVC", Last: "AccountName=LocalSystem",
		Binary: "", UserData: "", Message: "",
	},
	"User32_1074_1.xml": {
		System: "User32|{B0AA8734-56F7-41CC-B2F4-DE228E98B946}|User32|1074|q32768|v0|l4|t0|o0|k0x8080000000000000|2024-07-15T17:01:05.3935836Z|r3801||432/3496|System|DESKTOP-EKVR84B|S-1-5-21-3576963320-1344788273-4164204335-1001|x0",
		Data:   7, First: "param1=C:\\Windows\\system32\\shutdown.exe (DESKTOP-EKVR84B)", Last: "param7=DESKTOP-EKVR84B\\user",
		Binary: "", UserData: "", Message: "",
	},
	"VfpExt_7036_1.xml": {
		System: "VfpExt|||7036|q16384|v0|l4|t0|o0|k0x80000000000000|2021-01-20T13:56:57.4374649Z|r2847||4/376|System|WinDev2012Eval||x0",
		Data:   2, First: "Data[1]=", Last: "Data[2]=Driver load complete",
		Binary: "44:0000040002003000", UserData: "", Message: "",
	},
	"Windows_Error_Reporting_1001_1.xml": {
		System: "Windows Error Reporting|||1001|q0|v0|l4|t0|o0|k0x80000000000000|2020-02-18T02:52:37.1211986Z|r420107||0/0|Application|vagrant||x0",
		Data:   23, First: "Data[1]=", Last: "Data[23]=0",
		Binary: "", UserData: "", Message: "",
	},
	"Windows_Error_Reporting_1001_2.xml": {
		System: "Windows Error Reporting|||1001|q0|v0|l4|t0|o0|k0x80000000000000|2019-01-08T14:01:18.9094250Z|r11279||0/0|Application|WD00000.eu.windows.com||x0",
		Data:   22, First: "Data[1]=2005798148961969216", Last: "Data[22]=e7b725b96c0bab97abd606ca1003a440",
		Binary: "", UserData: "", Message: "",
	},
}

func TestParseEventXMLRenderedSamples(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "data", "rendered-xml")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(renderedXMLWant) {
		t.Errorf("%d sample files, %d expectations: add the new file to renderedXMLWant", len(files), len(renderedXMLWant))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := renderedXMLWant[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := ParseEventXML(data)
			if err != nil {
				t.Fatalf("ParseEventXML: %v", err)
			}
			if got := summarize(ev); got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if ev.Source.Chunk != -1 || ev.Source.RecordID != ev.System.EventRecordID {
				t.Errorf("Source = %+v, want Chunk -1 and RecordID %d", ev.Source, ev.System.EventRecordID)
			}
			if ev.UserData == nil && len(ev.InsertionStrings) != len(ev.EventData) {
				t.Errorf("%d insertion strings for %d EventData fields", len(ev.InsertionStrings), len(ev.EventData))
			}
		})
	}
}

// TestParseEventXMLDetails pins values the summary table does not show.
func TestParseEventXMLDetails(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "data", "rendered-xml")
	parse := func(t *testing.T, name string) *Event {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ParseEventXML(data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	t.Run("MSI 10005 Binary is the ProductCode in ASCII", func(t *testing.T) {
		ev := parse(t, "MsiInstaller_10005_1.xml")
		if got, want := string(ev.Binary), "{FCF06755-DE02-4962-B6E8-F1215D916130}"; got != want {
			t.Errorf("Binary = %q, want %q", got, want)
		}
	})
	t.Run("EV text copy empty value is empty, trailing space kept", func(t *testing.T) {
		ev := parse(t, "MsiInstaller_1033_1.xml")
		if v, _ := ev.Positional(7); v != "" {
			t.Errorf("Data[7] = %q, want empty (Event Viewer line break)", v)
		}
		ev = parse(t, "Microsoft-Windows-Security-Auditing_4624_4.xml")
		if v, _ := ev.Data("LogonProcessName"); v != "User32 " {
			t.Errorf("LogonProcessName = %q, want %q", v, "User32 ")
		}
	})
	t.Run("forwarded RenderingInfo message keeps CR LF and tabs", func(t *testing.T) {
		ev := parse(t, "Microsoft-Windows-Security-Auditing_4624_4.xml")
		if !strings.HasPrefix(ev.RenderedMessage, "An account was successfully logged on.\r\n\r\nSubject:\r\n\tSecurity ID:\t\tS-1-5-18") {
			t.Errorf("RenderedMessage = %.80q", ev.RenderedMessage)
		}
		if len(ev.Other) != 1 || ev.Other[0].Name != "RenderingInfo" || ev.Other[0].Attrs[0] != (Field{"Culture", "en-GB"}) {
			t.Fatalf("Other = %+v, want one RenderingInfo Culture=en-GB", ev.Other)
		}
		var kw string
		for _, c := range ev.Other[0].Children {
			if c.Name == "Keywords" && len(c.Children) == 1 {
				kw = c.Children[0].Text
			}
		}
		if kw != "Audit Success" {
			t.Errorf("RenderingInfo/Keywords/Keyword = %q, want Audit Success", kw)
		}
	})
	t.Run("UserData tree and insertion strings", func(t *testing.T) {
		ev := parse(t, "Microsoft-Windows-Eventlog_1102_2.xml")
		ud := ev.UserData
		if ud.Attrs[0].Name != "xmlns" || ud.Children[1].Name != "SubjectUserName" || ud.Children[1].Text != "dadmin" {
			t.Errorf("UserData = %+v", ud)
		}
		want := []string{"S-1-5-21-3457937927-2839227994-823803824-1104", "dadmin", "CONTOSO", "0x55cd1d"}
		if fmt.Sprint(ev.InsertionStrings) != fmt.Sprint(want) {
			t.Errorf("InsertionStrings = %q, want %q", ev.InsertionStrings, want)
		}
		if len(ev.EventData) != 0 {
			t.Errorf("EventData = %v, want none", ev.EventData)
		}
	})
	t.Run("multi-line value", func(t *testing.T) {
		ev := parse(t, "Windows_Error_Reporting_1001_1.xml")
		v, _ := ev.Positional(16)
		if strings.Count(v, "\n") != 17 || !strings.HasPrefix(v, "\n\\\\?\\C:\\Windows\\Logs\\CBS\\CBS.log\n") {
			t.Errorf("Data[16] = %.80q… (%d line breaks), want 17 line breaks", v, strings.Count(v, "\n"))
		}
	})
}

func TestParseEventXMLSynthetic(t *testing.T) {
	const head = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='P'/><EventID>1</EventID>`
	tests := []struct {
		name    string
		xml     string
		wantErr string // substring; "" for none
		check   func(*Event) string
	}{
		{name: "raw EvtRender keeps a line-break-only value", xml: head + "</System><EventData><Data Name='ExtraInfo'>\n</Data><Data>\r</Data></EventData></Event>",
			check: func(ev *Event) string { return want(ev.EventData[0].Value+"|"+ev.EventData[1].Value, "\n|\r") }},
		{name: "pretty-printed copy makes it empty", xml: "<Event>\n <System><Provider Name='P'/></System>\n <EventData>\n  <Data>\n  </Data>\n  <Data> </Data>\n </EventData>\n</Event>",
			check: func(ev *Event) string { return want(ev.EventData[0].Value+"|"+ev.EventData[1].Value, "| ") }},
		{name: "CR LF inside a value is kept", xml: head + "</System><EventData><Data>a\r\nb</Data></EventData></Event>",
			check: func(ev *Event) string { return want(ev.EventData[0].Value, "a\r\nb") }},
		{name: "CR LF between attributes is fine", xml: "<Event\r\n xmlns='x'><System><Provider\r\nName='P'/></System></Event>",
			check: func(ev *Event) string { return want(ev.System.Provider, "P") }},
		{name: "entities decoded", xml: head + "</System><EventData><Data Name='x'>&lt;a&gt; &amp; &#x41;</Data></EventData></Event>",
			check: func(ev *Event) string { return want(ev.EventData[0].Value, "<a> & A") }},
		{name: "unknown System values go to Extra", xml: head + "<Execution ProcessID='1' ThreadID='2' ProcessorID='3'/><Level>x</Level></System></Event>",
			check: func(ev *Event) string {
				return want(fmt.Sprint(ev.System.Extra), "[{Execution/@ProcessorID 3} {Level x}]")
			}},
		{name: "EventData Name and ComplexData", xml: head + "</System><EventData Name='HIVE'><ComplexData Name='c'>v</ComplexData></EventData></Event>",
			check: func(ev *Event) string {
				return want(ev.EventDataName+"/"+ev.EventData[0].Name+"="+ev.EventData[0].Value, "HIVE/c=v")
			}},
		{name: "ProcessingErrorData kept in Other", xml: head + "</System><ProcessingErrorData><ErrorCode>15005</ErrorCode></ProcessingErrorData></Event>",
			check: func(ev *Event) string {
				return want(ev.Other[0].Name+"/"+ev.Other[0].Children[0].Text, "ProcessingErrorData/15005")
			}},
		{name: "bad Binary is reported, event kept", xml: head + "</System><EventData><Data>v</Data><Binary>XYZ</Binary></EventData></Event>",
			wantErr: "Binary is not hex", check: func(ev *Event) string { return want(ev.EventData[0].Value, "v") }},
		{name: "BOM and prolog", xml: "\xef\xbb\xbf<?xml version='1.0'?>\n" + head + "</System></Event>",
			check: func(ev *Event) string { return want(fmt.Sprint(ev.System.EventID), "1") }},
		{name: "fold markers stripped, values with dashes kept", xml: "- <Event>\n  - <System>\n<Provider Name='P'/></System>\n - <EventData><Data>\n- a &lt;b&gt;\n- c</Data></EventData>\n</Event>",
			check: func(ev *Event) string { return want(ev.EventData[0].Value, "\n- a <b>\n- c") }},
		{name: "raw and referenced control characters survive", xml: head + "</System><EventData><Data>a\x01b&#2;c&#x1f;d&#9;e</Data><Data Name='\x07'>\x00</Data></EventData></Event>",
			check: func(ev *Event) string {
				return want(fmt.Sprint(ev.EventData), fmt.Sprint([]Field{{"", "a\x01b\x02c\x1fd\te"}, {"\x07", "\x00"}}))
			}},
		{name: "placeholder look-alikes make controls U+FFFD", xml: head + "</System><EventData><Data>\U0010FF01\x01</Data></EventData></Event>",
			check: func(ev *Event) string { return want(ev.EventData[0].Value, "\U0010FF01\uFFFD") }},
		{name: "not XML", xml: "hello", wantErr: "text outside"},
		{name: "wrong root", xml: "<Events/>", wantErr: "want <Event>"},
		{name: "unclosed", xml: head, wantErr: "is not closed"},
		{name: "not well-formed", xml: "<Event a=1/>", wantErr: "not well-formed"},
		{name: "empty", xml: "", wantErr: "no element"},
		{name: "mismatched end", xml: "<Event><System></Event>", wantErr: "unexpected </Event>"},
		{name: "two roots", xml: "<Event/><Event/>", wantErr: "second root"},
		{name: "too deep", xml: "<Event><UserData>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</UserData></Event>", wantErr: "deeper than"},
		{name: "too big", xml: "<Event>" + strings.Repeat(" ", maxEventXMLSize) + "</Event>", wantErr: "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEventXML([]byte(tt.xml))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if tt.check != nil {
				if ev == nil {
					t.Fatal("no event returned")
				}
				if msg := tt.check(ev); msg != "" {
					t.Error(msg)
				}
			} else if ev != nil {
				t.Errorf("got an event with error %v", err)
			}
		})
	}
}

func want(got, want string) string {
	if got != want {
		return fmt.Sprintf("got %q, want %q", got, want)
	}
	return ""
}

// FuzzParseEventXML checks that no input panics or hangs and that an Event
// comes back whenever no error does.
func FuzzParseEventXML(f *testing.F) {
	shared, _ := testenv.SharedDir()
	files, _ := filepath.Glob(filepath.Join(shared, "data", "rendered-xml", "*.xml"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("<Event><System><EventID>1</EventID></System></Event>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEventXML(data)
		if err == nil && ev == nil {
			t.Fatal("nil event without error")
		}
	})
}

func BenchmarkParseEventXML(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(testenv.Shared(b), "data", "rendered-xml", "Microsoft-Windows-Security-Auditing_4624_5.xml"))
	if err != nil {
		b.Skip("shared samples not found:", err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseEventXML(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseEventXMLMatchesFileParser renders every record of the repo's
// test logs as XML with the file parser and maps it back with
// ParseEventXML: both paths must give the same Event, which is what live
// mode promises.
func TestParseEventXMLMatchesFileParser(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "evtx", "*", "*.evtx"))
	if len(files) == 0 {
		t.Fatal("no test logs under testdata/evtx")
	}
	if testing.Short() {
		files = files[:min(len(files), 3)]
	}
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			compareXMLRoundTrip(t, path)
		})
	}
}

func compareXMLRoundTrip(t *testing.T, path string) {
	f, err := Open(path, Options{XML: true})
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	n, diffs := 0, 0
	for ev, err := range f.Events(t.Context()) {
		if err != nil || ev.XML == "" {
			continue
		}
		if strings.ContainsRune(ev.XML, '\uFFFD') && !strings.ContainsRune(fmt.Sprint(ev.EventData, ev.UserData), '\uFFFD') {
			continue // the file parser's XML writer replaced characters XML cannot carry
		}
		n++
		got, err := ParseEventXML([]byte(ev.XML))
		if err != nil {
			t.Errorf("record %d: %v\n%s", ev.Source.RecordID, err, ev.XML)
			diffs++
			continue
		}
		if d := diffEvents(ev, got); d != "" {
			diffs++
			if diffs <= 5 {
				t.Errorf("record %d: %s\n%.600s", ev.Source.RecordID, d, ev.XML)
			}
		}
	}
	if diffs > 5 {
		t.Errorf("%d of %d records differ", diffs, n)
	}
}

// diffEvents compares what both sources must agree on.
func diffEvents(want, got *Event) string {
	var d []string
	check := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			d = append(d, fmt.Sprintf("%s: file parser %q, XML %q", what, fmt.Sprint(a), fmt.Sprint(b)))
		}
	}
	check("System", systemSummary(&want.System), systemSummary(&got.System))
	check("Extra", want.System.Extra, got.System.Extra)
	check("TimeCreated", want.System.TimeCreated, got.System.TimeCreated)
	check("EventData", want.EventData, got.EventData)
	check("EventDataName", want.EventDataName, got.EventDataName)
	check("Binary", hex.EncodeToString(want.Binary), hex.EncodeToString(got.Binary))
	check("UserData", nodeString(want.UserData), nodeString(got.UserData))
	check("RenderedMessage", want.RenderedMessage, got.RenderedMessage)
	// The file parser's insertion strings are all substitution values of
	// the template instance; XML shows only those placed in the document,
	// so classic events lose hidden tail values (the Binary as hex, a
	// length). The visible ones must agree, in order: they are what
	// message templates' %1…%n use.
	if want.UserData == nil && dataArePrefix(want) && (len(got.InsertionStrings) > len(want.InsertionStrings) ||
		fmt.Sprint(want.InsertionStrings[:len(got.InsertionStrings)]) != fmt.Sprint(got.InsertionStrings)) {
		check("InsertionStrings (prefix)", want.InsertionStrings, got.InsertionStrings)
	}
	return strings.Join(d, "; ")
}

// dataArePrefix reports whether the file parser's insertion strings start
// with its EventData values, one per Data; arrays and hidden substitutions
// break that, and then XML cannot show the substitution list.
func dataArePrefix(ev *Event) bool {
	if len(ev.EventData) > len(ev.InsertionStrings) {
		return false
	}
	for i, d := range ev.EventData {
		if ev.InsertionStrings[i] != d.Value {
			return false
		}
	}
	return true
}

func nodeString(n *Node) string {
	if n == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString(n.Name + fmt.Sprint(n.Attrs) + "=" + n.Text + "[")
	for _, c := range n.Children {
		b.WriteString(nodeString(c))
	}
	b.WriteString("]")
	return b.String()
}

// TestParseEventXMLMatchesFileParserCorpus does the same on real logs of
// the shared corpus (skipped with -short).
func TestParseEventXMLMatchesFileParserCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus round trip skipped with -short")
	}
	root := testenv.Corpus(t)
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".evtx") {
			if fi, err := d.Info(); err == nil && fi.Size() < 8<<20 {
				files = append(files, p)
			}
		}
		return nil
	})
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		t.Run(rel, func(t *testing.T) { compareXMLRoundTrip(t, path) })
	}
}
