// A small Go app sending one message with the one-call net/smtp.SendMail (STARTTLS when the server offers it,
// the system's trust store, which SSL_CERT_FILE points at), failing with log.Fatal(err) as Go apps do.
// Configured from $CLIENT_JOB (JSON: host, port, user) and $CLIENT_PASSWORD. SendMail has no timeout of
// its own: capture's kill bound ends a silent server's run. Written for tests/corpus/explain/capture3.py.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/smtp"
	"os"
)

type job struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	User string `json:"user"`
}

func main() {
	var j job
	if err := json.Unmarshal([]byte(os.Getenv("CLIENT_JOB")), &j); err != nil {
		log.Fatal(err)
	}
	var auth smtp.Auth
	if j.User != "" {
		auth = smtp.PlainAuth("", j.User, os.Getenv("CLIENT_PASSWORD"), j.Host)
	}
	msg := []byte("From: app@example.com\r\nTo: rcpt@example.com\r\nSubject: corpus\r\n\r\ncorpus\r\n")
	addr := net.JoinHostPort(j.Host, fmt.Sprint(j.Port))
	if err := smtp.SendMail(addr, auth, "app@example.com", []string{"rcpt@example.com"}, msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent")
}
