package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

type smtpSender struct {
	t         Target
	tlsConfig *tls.Config
}

func (s *smtpSender) send(ctx context.Context, a *Alert) error {
	addr := net.JoinHostPort(s.t.Host, strconv.Itoa(s.t.Port))
	if s.t.TLS == "none" && !isLoopback(s.t.Host) {
		return fmt.Errorf("smtp %s: tls none is allowed only for a server on this machine", addr)
	}
	tcfg := &tls.Config{ServerName: s.t.Host, MinVersion: tls.VersionTLS12}
	if s.tlsConfig != nil {
		tcfg = s.tlsConfig.Clone()
		if tcfg.ServerName == "" {
			tcfg.ServerName = s.t.Host
		}
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	var conn net.Conn
	var err error
	if s.t.TLS == "tls" {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tcfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	// Bound the whole conversation, and end it when ctx ends.
	deadline := time.Now().Add(60 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	c, err := smtp.NewClient(conn, s.t.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello("evtxscan"); err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	if s.t.TLS == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp %s: the server does not offer STARTTLS (set tls: tls for port 465)", addr)
		}
		if err := c.StartTLS(tcfg); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", addr, err)
		}
	}
	switch s.t.Auth {
	case "plain":
		if err := c.Auth(smtp.PlainAuth("", s.t.Username, s.t.Password, s.t.Host)); err != nil {
			return fmt.Errorf("smtp %s: authentication as %s: %w", addr, s.t.Username, err)
		}
	case "login":
		if err := c.Auth(&loginAuth{user: s.t.Username, pass: s.t.Password, host: s.t.Host}); err != nil {
			return fmt.Errorf("smtp %s: authentication as %s: %w", addr, s.t.Username, err)
		}
	}
	if err := c.Mail(s.t.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", addr, err)
	}
	for _, to := range s.t.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", addr, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	if _, err := w.Write(emailMessage(a, s.t.From, s.t.To, time.Now())); err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: message not accepted: %w", addr, err)
	}
	return c.Quit()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// emailMessage is the RFC 5322 message of an alert: a subject from the
// headline (encoded, line breaks removed), the id as Message-ID, and the
// text body in quoted-printable UTF-8.
func emailMessage(a *Alert, from string, to []string, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(cut(a.Headline(), 200))))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+a.ID+"@evtxscan>")
	header("X-Evtxscan-Alert", a.ID)
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(a.Text(), "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

// oneLine replaces control characters (line breaks above all) by spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// loginAuth is the AUTH LOGIN mechanism, which net/smtp lacks. Like
// PlainAuth it refuses to send the password without TLS except to a
// server on this machine.
type loginAuth struct{ user, pass, host string }

func (l *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != l.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (l *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:":
		return []byte(l.user), nil
	case "password:":
		return []byte(l.pass), nil
	}
	return nil, fmt.Errorf("unexpected server challenge %q", fromServer)
}
