package rules

import "testing"

func TestDecoders(t *testing.T) {
	const contosoBinary = "7B37424532353833302D313545452D343739372D413235462D4446363134414341394238457D"
	tests := []struct {
		name    string
		decoder string
		args    []string
		want    string
		wantOK  bool
	}{
		{"product code alone (11NNN)", "msi_product_code", []string{contosoBinary}, "{7BE25830-15EE-4797-A25F-DF614ACA9B8E}", true},
		{"product code with 1033 suffix", "msi_product_code", []string{"7B30443546313538382D443333372D343536422D394333352D3945444641444446353632377D3030303030393432373165663838626163623237326139643861613931323461316264393030303030393034"}, "{0D5F1588-D337-456B-9C35-9EDFADDF5627}", true},
		{"product code lower-case hex", "msi_product_code", []string{"7b37424532353833302d313545452d343739372d413235462d4446363134414341394238457d"}, "{7BE25830-15EE-4797-A25F-DF614ACA9B8E}", true},
		{"product code truncated binary", "msi_product_code", []string{"7B4432383537"}, "", false},
		{"product code not hex", "msi_product_code", []string{"ZZ" + contosoBinary[2:]}, "", false},
		{"product code ascii but not a guid", "msi_product_code", []string{"41414141414141414141414141414141414141414141414141414141414141414141414141414141"}, "", false},
		{"product code empty", "msi_product_code", []string{""}, "", false},
		{"product code no args", "msi_product_code", nil, "", false},

		{"sentence product", "msi_sentence_product", []string{"Product: Contoso Agent -- Removal failed."}, "Contoso Agent", true},
		{"sentence product french", "msi_sentence_product", []string{"Produit : Nimbus Sync -- Erreur 1714. …"}, "Nimbus Sync", true},
		{"sentence product with colon in name", "msi_sentence_product", []string{"Product: Foo: Bar Edition -- Installation failed."}, "Foo: Bar Edition", true},
		{"sentence product no separator", "msi_sentence_product", []string{"Product: Contoso Agent"}, "", false},
		{"sentence product no colon", "msi_sentence_product", []string{"Contoso -- Removal failed."}, "", false},
		{"sentence product empty name", "msi_sentence_product", []string{"Product: -- Removal failed."}, "", false},
		{"sentence outcome", "msi_sentence_outcome", []string{"Product: Contoso Agent -- Removal failed."}, "Removal failed.", true},
		{"sentence outcome keeps later separators", "msi_sentence_outcome", []string{"Product: A -- Error 1722. x -- y"}, "Error 1722. x -- y", true},

		{"error number in text", "msi_error_number", []string{"Product: Contoso Agent -- Error 1722. There is a problem", "11722"}, "1722", true},
		{"error number 10005", "msi_error_number", []string{"Product: ZipLock -- The installer has encountered an unexpected error installing this package. The error code is 2762. The arguments are: , ,", "10005"}, "2762", true},
		{"error number first of two", "msi_error_number", []string{"Product: Nimbus Sync -- Error 1714. The older version of Nimbus Sync cannot be removed. System Error 1612.", "11714"}, "1714", true},
		{"error number ignores digits in product", "msi_error_number", []string{"Product: Office 2016 -- Error 1935. x"}, "1935", true},
		{"error number skips longer runs", "msi_error_number", []string{"Product: A -- Code 12345 then Error 1402."}, "1402", true},
		{"error number from event id", "msi_error_number", []string{"Product: Contoso -- Removal failed.", "11725"}, "1725", true},
		{"error number none for 10005 without number", "msi_error_number", []string{"Product: A -- no number here", "10005"}, "", false},
		{"error number event id not 11NNN", "msi_error_number", []string{"no sentence", "1034"}, "", false},

		{"result removal ok", "msi_result", []string{"11724"}, "success", true},
		{"result removal failed", "msi_result", []string{"11725"}, "failure", true},
		{"result status 0", "msi_result", []string{"1034", "0"}, "success", true},
		{"result status 3010", "msi_result", []string{"1034", "3010"}, "success", true},
		{"result status 1641", "msi_result", []string{"1033", "1641"}, "success", true},
		{"result status 1603", "msi_result", []string{"1034", "1603"}, "failure", true},
		{"result status garbage", "msi_result", []string{"1034", "(NULL)"}, "", false},
		{"result status missing", "msi_result", []string{"1034"}, "", false},
		{"result other event", "msi_result", []string{"1040", "0"}, "", false},

		{"scm key", "scm_service_key", []string{"7300700070007300760063002F0034000000"}, "sppsvc", true},
		{"scm state running", "scm_service_state", []string{"7300700070007300760063002F0034000000"}, "4", true},
		{"scm state stopped", "scm_service_state", []string{"4500760065006E0074004C006F0067002F0031000000"}, "1", true},
		{"scm key without state (7000)", "scm_service_key", []string{"4D005300530051004C005300450052005600450052000000"}, "MSSQLSERVER", true},
		{"scm state absent (7000)", "scm_service_state", []string{"4D005300530051004C005300450052005600450052000000"}, "", false},
		{"scm odd length", "scm_service_key", []string{"730070"}, "", false},
		{"scm not hex", "scm_service_key", []string{"ZZ00"}, "", false},
		{"scm empty text", "scm_service_key", []string{"0000"}, "", false},
		{"scm state not a number", "scm_service_state", []string{"61002F007800"}, "", false},
		{"last number", "last_number", []string{"… System Error 1612."}, "1612", true},
		{"last number at end", "last_number", []string{"error 5"}, "5", true},
		{"last number none", "last_number", []string{"no digits."}, "", false},

		{"hresult hex", "hresult", []string{"0x80070005"}, "0x80070005", true},
		{"hresult lower hex", "hresult", []string{"0x80073d02"}, "0x80073D02", true},
		{"hresult short hex", "hresult", []string{"0x5"}, "0x00000005", true},
		{"hresult decimal", "hresult", []string{"2147942405"}, "0x80070005", true},
		{"hresult negative decimal", "hresult", []string{"-2147024891"}, "0x80070005", true},
		{"hresult bare hex", "hresult", []string{"c0000121"}, "0xC0000121", true},
		{"hresult too big", "hresult", []string{"0x180070005"}, "", false},
		{"hresult text", "hresult", []string{"%%2"}, "", false},
		{"hresult empty", "hresult", []string{""}, "", false},

		{"lower", "lower", []string{"MsiExec.EXE"}, "msiexec.exe", true},
		{"basename windows", "basename", []string{`C:\Windows\System32\msiexec.exe`}, "msiexec.exe", true},
		{"basename slash", "basename", []string{"/usr/bin/x"}, "x", true},
		{"basename bare", "basename", []string{"unins000.exe"}, "unins000.exe", true},
		{"basename trailing separator", "basename", []string{`C:\Temp\`}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := decoders[tt.decoder]
			if !ok {
				t.Fatalf("decoder %q is not registered", tt.decoder)
			}
			got, gotOK := d(tt.args)
			if got != tt.want || gotOK != tt.wantOK {
				t.Errorf("%s(%q) = %q, %v; want %q, %v", tt.decoder, tt.args, got, gotOK, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzDecoders checks that no decoder panics on hostile event text.
func FuzzDecoders(f *testing.F) {
	f.Add("Product: A -- Error 1722.", "11722")
	f.Add("7B37424532353833302D313545452D343739372D413235462D4446363134414341394238457D", "")
	f.Add("-", "0x")
	f.Fuzz(func(t *testing.T, a, b string) {
		for name, d := range decoders {
			for _, args := range [][]string{nil, {a}, {a, b}, {b, a, b}} {
				if got, ok := d(args); !ok && got != "" {
					t.Errorf("%s(%q) = %q with ok=false; want no value", name, args, got)
				}
			}
		}
	})
}
