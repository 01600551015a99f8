package notify

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// smtpServer is a tiny SMTP server on 127.0.0.1 that accepts one or more
// messages: EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT.
type smtpServer struct {
	ln       net.Listener
	tls      *tls.Config
	implicit bool // TLS from the first byte (port 465 style)
	user     string
	pass     string

	mu       sync.Mutex
	messages []smtpMessage
	authed   []string // mechanisms that succeeded
}

type smtpMessage struct {
	from string
	to   []string
	data string
	tls  bool
}

func newSMTPServer(t *testing.T, implicit bool) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, tls: selfSignedTLS(t), implicit: implicit, user: "alerts", pass: "s3cret"}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *smtpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(c)
	}
}

func (s *smtpServer) session(c net.Conn) {
	defer c.Close()
	secure := false
	if s.implicit {
		c = tls.Server(c, s.tls)
		secure = true
	}
	r := bufio.NewReader(c)
	w := func(line string) { c.Write([]byte(line + "\r\n")) }
	w("220 test ESMTP")
	var msg smtpMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			w("250-test")
			if !secure {
				w("250-STARTTLS")
			}
			w("250 AUTH PLAIN LOGIN")
		case cmd == "STARTTLS":
			w("220 go ahead")
			c = tls.Server(c, s.tls)
			r = bufio.NewReader(c)
			secure = true
		case strings.HasPrefix(cmd, "AUTH PLAIN"):
			b, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(line[len("AUTH PLAIN"):]))
			if string(b) == "\x00"+s.user+"\x00"+s.pass {
				s.mu.Lock()
				s.authed = append(s.authed, "PLAIN")
				s.mu.Unlock()
				w("235 ok")
			} else {
				w("535 bad credentials")
			}
		case cmd == "AUTH LOGIN":
			w("334 " + base64.StdEncoding.EncodeToString([]byte("Username:")))
			u, _ := r.ReadString('\n')
			w("334 " + base64.StdEncoding.EncodeToString([]byte("Password:")))
			p, _ := r.ReadString('\n')
			ub, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(u))
			pb, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(p))
			if string(ub) == s.user && string(pb) == s.pass {
				s.mu.Lock()
				s.authed = append(s.authed, "LOGIN")
				s.mu.Unlock()
				w("235 ok")
			} else {
				w("535 bad credentials")
			}
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			msg = smtpMessage{from: strings.Trim(line[10:], "<> "), tls: secure}
			w("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			msg.to = append(msg.to, strings.Trim(line[8:], "<> "))
			w("250 ok")
		case cmd == "DATA":
			w("354 end with .")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			msg.data = data.String()
			s.mu.Lock()
			s.messages = append(s.messages, msg)
			s.mu.Unlock()
			w("250 queued")
		case cmd == "QUIT":
			w("221 bye")
			return
		default:
			w("502 unknown")
		}
	}
}

func (s *smtpServer) got() ([]smtpMessage, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.messages...), append([]string(nil), s.authed...)
}

// selfSignedTLS makes a certificate for 127.0.0.1 for the test server.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// clientTLS trusts the test server's certificate.
func clientTLS(t *testing.T, s *smtpServer) *tls.Config {
	cert, _ := x509.ParseCertificate(s.tls.Certificates[0].Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool}
}

func TestEmail(t *testing.T) {
	tests := []struct {
		name     string
		implicit bool
		target   Target
		wantAuth string
		wantTLS  bool
	}{
		{"STARTTLS with AUTH PLAIN", false, Target{TLS: "starttls", Auth: "plain", Username: "alerts", Password: "s3cret"}, "PLAIN", true},
		{"implicit TLS with AUTH LOGIN", true, Target{TLS: "tls", Auth: "login", Username: "alerts", Password: "s3cret"}, "LOGIN", true},
		{"loopback without TLS or auth", false, Target{TLS: "none", Auth: "none"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSMTPServer(t, tt.implicit)
			tg := tt.target
			tg.Name, tg.Type, tg.Host, tg.Port = "mail", TypeEmail, "127.0.0.1", srv.port()
			tg.From, tg.To = "evtxscan@example.com", []string{"ops@example.com", "soc@example.com"}
			n, err := New(Options{Targets: []Target{tg}, MinLevel: rules.LevelMedium, OutboxDir: t.TempDir(), Now: newClock().now, TLSConfig: clientTLS(t, srv)})
			if err != nil {
				t.Fatal(err)
			}
			f := finding("msi_fail", "PC1", "Zoom\r\nBcc: victim@example.com", rules.LevelHigh)
			if err := all(n.Notify(context.Background(), []rules.Finding{f})); err != nil {
				t.Fatal(err)
			}
			msgs, authed := srv.got()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			m := msgs[0]
			if m.from != "evtxscan@example.com" || strings.Join(m.to, ",") != "ops@example.com,soc@example.com" || m.tls != tt.wantTLS {
				t.Errorf("envelope %+v", m)
			}
			if strings.Join(authed, ",") != tt.wantAuth {
				t.Errorf("auth %v, want %q", authed, tt.wantAuth)
			}
			head, body, _ := strings.Cut(m.data, "\r\n\r\n")
			for _, h := range []string{"Subject: [HIGH] MSI removal failed: Zoom  Bcc: victim@example.com on PC1", "Message-ID: <", "@evtxscan>", "Content-Transfer-Encoding: quoted-printable"} {
				if !strings.Contains(head, h) {
					t.Errorf("header lacks %q:\n%s", h, head)
				}
			}
			if strings.Contains(head, "\r\nBcc:") {
				t.Errorf("header injection:\n%s", head)
			}
			if !strings.Contains(body, "Status: 1603") || !strings.Contains(body, "record 42") {
				t.Errorf("body:\n%s", body)
			}
		})
	}
}

func TestEmailRefusals(t *testing.T) {
	srv := newSMTPServer(t, false)
	base := Target{Name: "mail", Type: TypeEmail, Host: "127.0.0.1", Port: srv.port(), From: "a@example.com", To: []string{"b@example.com"}}
	tests := []struct {
		name    string
		mod     func(*Target)
		tlsCfg  *tls.Config
		wantErr string
	}{
		{"wrong password", func(t *Target) { t.TLS, t.Auth, t.Username, t.Password = "starttls", "plain", "alerts", "nope" }, clientTLS(t, srv), "535"},
		{"untrusted certificate", func(t *Target) { t.TLS = "starttls" }, nil, "certificate"},
		{"tls none to a remote host", func(t *Target) { t.TLS, t.Host = "none", "192.0.2.1" }, nil, "only for a server on this machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := base
			tt.mod(&tg)
			s := &smtpSender{t: tg, tlsConfig: tt.tlsCfg}
			if err := tg.check(); err != nil {
				t.Fatal(err)
			}
			err := s.send(context.Background(), &Alert{ID: "x", Title: "t", Level: "high"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
