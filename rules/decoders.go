package rules

import (
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf16"
)

// A Decoder turns the resolved values of its arguments into one derived
// value, for field-map expressions such as msi_product_code(Binary). It
// returns false when the input does not have the shape the decoder reads;
// the field is then absent, never a guess.
//
// Decoders see attacker-controlled event text: they must not panic on any
// input and must not allocate more than a small multiple of it.
type Decoder func(args []string) (string, bool)

// decoders are the functions field maps may call by name. Unknown names are
// lint errors. Every decoder is language-agnostic: Windows localizes the
// message text, so decoders read digits, GUIDs and separators, never words.
var decoders = map[string]Decoder{
	"msi_product_code":     decodeMsiProductCode,
	"msi_sentence_product": decodeMsiSentenceProduct,
	"msi_sentence_outcome": decodeMsiSentenceOutcome,
	"msi_error_number":     decodeMsiErrorNumber,
	"msi_result":           decodeMsiResult,
	"scm_service_key":      decodeSCMServiceKey,
	"scm_service_state":    decodeSCMServiceState,
	"last_number":          decodeLastNumber,
	"hresult":              decodeHResult,
	"lower":                decodeLower,
	"basename":             decodeBasename,
}

// msiGUIDLen is the length of a braced GUID, "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}".
const msiGUIDLen = 38

// decodeMsiProductCode reads the ProductCode MsiInstaller stores in the
// event's Binary: the ASCII text "{GUID}" at its start, rendered as hex
// (1033/1034/1035 append "0000" and more hex after it; 11NNN events hold the
// GUID alone). args[0] is the Binary as hex. The GUID is returned upper-case.
func decodeMsiProductCode(args []string) (string, bool) {
	if len(args) != 1 || len(args[0]) < 2*msiGUIDLen {
		return "", false
	}
	var raw [msiGUIDLen]byte
	if _, err := hex.Decode(raw[:], []byte(args[0][:2*msiGUIDLen])); err != nil {
		return "", false
	}
	guid := strings.ToUpper(string(raw[:]))
	if !isBracedGUID(guid) {
		return "", false
	}
	return guid, true
}

// isBracedGUID reports whether s is "{8-4-4-4-12}" with hex digits.
func isBracedGUID(s string) bool {
	if len(s) != msiGUIDLen || s[0] != '{' || s[msiGUIDLen-1] != '}' {
		return false
	}
	for i := 1; i < msiGUIDLen-1; i++ {
		c := s[i]
		switch i {
		case 9, 14, 19, 24:
			if c != '-' {
				return false
			}
		default:
			if !isHexDigit(c) {
				return false
			}
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// msiSentenceSep separates the product from the outcome in the sentence of
// MsiInstaller 11NNN and 10005 events: "Product: X -- Removal failed." The
// separator survives localization ("Produit : X -- Erreur 1714. …").
const msiSentenceSep = " -- "

// splitMsiSentence splits "Product: X -- outcome" into X and outcome. The
// word before the first colon is localized, so it is skipped whatever it
// says; a product name may itself hold a colon, hence the first one only.
func splitMsiSentence(s string) (product, outcome string, ok bool) {
	sep := strings.Index(s, msiSentenceSep)
	if sep < 0 {
		return "", "", false
	}
	head := s[:sep]
	colon := strings.IndexByte(head, ':')
	if colon < 0 {
		return "", "", false
	}
	product = strings.TrimSpace(head[colon+1:])
	outcome = strings.TrimSpace(s[sep+len(msiSentenceSep):])
	return product, outcome, true
}

// decodeMsiSentenceProduct returns X of "Product: X -- …".
func decodeMsiSentenceProduct(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	product, _, ok := splitMsiSentence(args[0])
	return product, ok && product != ""
}

// decodeMsiSentenceOutcome returns the text after " -- " of "Product: X -- …".
func decodeMsiSentenceOutcome(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	_, outcome, ok := splitMsiSentence(args[0])
	return outcome, ok && outcome != ""
}

// decodeMsiErrorNumber returns the Windows Installer error-table number of
// an 11NNN or 10005 sentence: the first free-standing 4-digit number after
// " -- " ("… -- Error 1722. …", "… -- The error code is 2503."), whatever
// language the words around it are in. args[1], when given, is the EventID:
// for 11000–11999 without a number in the text (e.g. "Removal failed.") the
// number is EventID-10000, the rule by which Windows Installer numbers these
// events. Note the trap: error-table 1603 (files in use) is not status 1603.
func decodeMsiErrorNumber(args []string) (string, bool) {
	if len(args) < 1 || len(args) > 2 {
		return "", false
	}
	if sep := strings.Index(args[0], msiSentenceSep); sep >= 0 {
		if n, ok := firstFourDigitNumber(args[0][sep+len(msiSentenceSep):]); ok {
			return n, true
		}
	}
	if len(args) == 2 {
		if id, err := strconv.Atoi(args[1]); err == nil && id >= 11000 && id <= 11999 {
			return strconv.Itoa(id - 10000), true
		}
	}
	return "", false
}

// firstFourDigitNumber returns the first run of exactly four ASCII digits
// not touching another letter or digit (a \b\d{4}\b match).
func firstFourDigitNumber(s string) (string, bool) {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i == 4 && (i == 0 || !isWordByte(s[i-1])) && (j == len(s) || !isWordByte(s[j])) {
			return s[i:j], true
		}
		i = j
	}
	return "", false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWordByte(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// decodeMsiResult says whether a Windows Installer operation succeeded:
// "success" or "failure". args are the EventID and, for the status-bearing
// events (1033–1037), the status. The 11NNN outcome sentences are judged by
// their event id alone (11707/11724/11728 success, 11708/11725/11729
// failure), the status events by their status: 0, 1641 and 3010 are
// success (the last two with a restart). Anything else has no result.
func decodeMsiResult(args []string) (string, bool) {
	if len(args) < 1 || len(args) > 2 {
		return "", false
	}
	switch strings.TrimSpace(args[0]) {
	case "11707", "11724", "11728":
		return "success", true
	case "11708", "11725", "11729":
		return "failure", true
	case "1033", "1034", "1035", "1036", "1037":
		if len(args) != 2 {
			return "", false
		}
		status := strings.TrimSpace(args[1])
		if _, err := strconv.ParseUint(status, 10, 32); err != nil {
			return "", false
		}
		switch status {
		case "0", "1641", "3010":
			return "success", true
		}
		return "failure", true
	}
	return "", false
}

// maxSCMBinary bounds the Binary the SCM decoders read: a service key name is
// at most 256 characters, so anything longer is not what Windows wrote.
const maxSCMBinary = 2 * 2 * 300

// scmBinaryText decodes the Binary of Service Control Manager 7036 (and
// 7031/7040), UTF-16LE text "<service key>/<state>" ending in NULs, e.g.
// "sppsvc/4". It returns key and state ("" when there is no "/").
func scmBinaryText(hexText string) (key, state string, ok bool) {
	if len(hexText) == 0 || len(hexText)%4 != 0 || len(hexText) > maxSCMBinary {
		return "", "", false
	}
	raw, err := hex.DecodeString(hexText)
	if err != nil {
		return "", "", false
	}
	units := make([]uint16, 0, len(raw)/2)
	for i := 0; i+1 < len(raw); i += 2 {
		u := uint16(raw[i]) | uint16(raw[i+1])<<8
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	text := string(utf16.Decode(units))
	if text == "" {
		return "", "", false
	}
	key, state, _ = strings.Cut(text, "/")
	return key, state, key != ""
}

// decodeSCMServiceKey returns the service key name (e.g. "sppsvc") from the
// Binary of an SCM event; the display name in param1 is localized, the key
// name is not.
func decodeSCMServiceKey(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	key, _, ok := scmBinaryText(args[0])
	return key, ok
}

// decodeSCMServiceState returns the numeric service state after the "/" in
// the Binary of SCM 7036 (1 stopped, 4 running, … as SERVICE_STATUS
// dwCurrentState); param2 says the same in the reader's language.
func decodeSCMServiceState(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	_, state, ok := scmBinaryText(args[0])
	if !ok || state == "" {
		return "", false
	}
	if _, err := strconv.ParseUint(state, 10, 8); err != nil {
		return "", false
	}
	return state, true
}

// decodeLastNumber returns the last run of ASCII digits in a text, e.g. 1612
// of "… System Error 1612." (leading zeros kept as written).
func decodeLastNumber(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	s := args[0]
	end := len(s)
	for end > 0 && !isDigit(s[end-1]) {
		end--
	}
	if end == 0 {
		return "", false
	}
	start := end
	for start > 0 && isDigit(s[start-1]) {
		start--
	}
	return s[start:end], true
}

// decodeHResult normalizes an error code to the form labels are keyed by,
// "0x" and eight upper-case hex digits. It reads "0x80070005" (any case),
// the decimal "2147942405" (WUSA writes decimal; a negative decimal is the
// 32-bit two's complement) and eight bare hex digits such as "c0000121"
// (Windows Error Reporting and Application Error write those).
func decodeHResult(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	s := strings.TrimSpace(args[0])
	var v uint64
	var err error
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		v, err = strconv.ParseUint(s[2:], 16, 32)
	case strings.HasPrefix(s, "-"):
		var n int64
		n, err = strconv.ParseInt(s, 10, 32)
		v = uint64(uint32(int32(n)))
	default:
		v, err = strconv.ParseUint(s, 10, 32)
		if err != nil && len(s) == 8 {
			v, err = strconv.ParseUint(s, 16, 32)
		}
	}
	if err != nil || s == "" {
		return "", false
	}
	const digits = "0123456789ABCDEF"
	out := []byte("0x00000000")
	for i := 9; i >= 2; i-- {
		out[i] = digits[v&0xF]
		v >>= 4
	}
	return string(out), true
}

// decodeLower returns its argument in lower case.
func decodeLower(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	return strings.ToLower(args[0]), true
}

// decodeBasename returns the file name of a Windows (or slash) path:
// "msiexec.exe" of "C:\Windows\System32\msiexec.exe". A trailing separator
// leaves nothing, which is no value.
func decodeBasename(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	s := strings.TrimSpace(args[0])
	if i := strings.LastIndexAny(s, `\/`); i >= 0 {
		s = s[i+1:]
	}
	return s, s != ""
}
