package testenv

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Chromium runs headless Chromium (Debian's chromium) on url with the
// network-quiet flags this workplace needs, and returns what it printed on
// stdout: the serialized DOM after scripts ran, or, with shot set, nothing
// (the screenshot is saved at shot). It skips (fails in CI) when Chromium
// is not installed, and fails the test when the page breaks its own
// Content-Security-Policy.
func Chromium(t testing.TB, url, shot string) string {
	t.Helper()
	bin := Tool(t, "chromium", "chromium")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=10000", "--hide-scrollbars"}
	if shot != "" {
		args = append(args, "--window-size=1400,2400", "--screenshot="+shot)
	} else {
		args = append(args, "--dump-dom")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	if strings.Contains(stderr.String(), "Content Security Policy") {
		t.Errorf("the page broke its own Content Security Policy:\n%s", stderr.String())
	}
	return stdout.String()
}
