package config

import (
	"fmt"
	"github.com/fluxo-cdc/fluxo/cdc"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestConnector(t *testing.T) {
	tests := map[string]cdc.Connector{
		"mysql://u@h/db": cdc.ConnectorMySQL, "MySQL://h": cdc.ConnectorMySQL, "postgres://h/db": cdc.ConnectorPostgres,
		"postgresql://h/db": cdc.ConnectorPostgres, "mongodb://h": "", "h:3306": "", "": "",
	}
	for dsn, want := range tests {
		t.Run(dsn, func(t *testing.T) {
			if got := (Source{DSN: dsn}).Connector(); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestParseMySQLDSN(t *testing.T) {
	tests := []struct {
		name, dsn string
		want      MySQLDSN
		err       string
	}{
		{"full", "mysql://fluxo:pw@127.0.0.1:3307/shop?tls=true",
			MySQLDSN{User: "fluxo", Password: "pw", Host: "127.0.0.1", Port: 3307, Database: "shop", Params: url.Values{"tls": {"true"}}}, ""},
		{"default port, no db", "mysql://fluxo@db",
			MySQLDSN{User: "fluxo", Host: "db", Port: 3306, Params: url.Values{}}, ""},
		{"percent-decoded", "mysql://us%40r:p%23ss%3Aw%2Fd@db/shop",
			MySQLDSN{User: "us@r", Password: "p#ss:w/d", Host: "db", Port: 3306, Database: "shop", Params: url.Values{}}, ""},
		{"raw password", "mysql://fluxo:p#ss/w?rd@x@db:3306/shop",
			MySQLDSN{User: "fluxo", Password: "p#ss/w?rd@x", Host: "db", Port: 3306, Database: "shop", Params: url.Values{}}, ""},
		{"raw password starting with digits", "mysql://fluxo:12/ab@db/shop",
			MySQLDSN{User: "fluxo", Password: "12/ab", Host: "db", Port: 3306, Database: "shop", Params: url.Values{}}, ""},
		{"ipv6", "mysql://u@[::1]:3310/",
			MySQLDSN{User: "u", Host: "::1", Port: 3310, Params: url.Values{}}, ""},
		{"no host", "mysql://u:secret@/shop", MySQLDSN{}, "mysql DSN mysql://u:***@/shop: host is missing"},
		{"bad port", "mysql://u:secret@db:0/shop", MySQLDSN{}, `port "0" is not a number from 1 to 65535`},
		{"postgres", "postgres://u@db/shop", MySQLDSN{}, `scheme "postgres" is not mysql://`},
		{"not a url", "u:secret@tcp(db:3306)/shop", MySQLDSN{}, "mysql DSN ***@tcp(db:3306)/shop: not a URL"},
		{"db with slash", "mysql://u@db/a/b", MySQLDSN{}, `database "a/b" contains '/'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMySQLDSN(tt.dsn)
			checkErr(t, err, tt.err)
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestMySQLDSNString(t *testing.T) {
	d := MySQLDSN{User: "u", Password: "secret", Host: "::1", Port: 3306, Database: "shop"}
	for _, s := range []string{d.String(), fmt.Sprintf("%v %+v %#v", d, d, d)} {
		if strings.Contains(s, "secret") || !strings.Contains(s, "u:***@[::1]:3306/shop") {
			t.Errorf("got %s", s)
		}
	}
	if d.Addr() != "[::1]:3306" {
		t.Errorf("Addr %s", d.Addr())
	}
}

func TestRawPasswordIsNormalized(t *testing.T) {
	file := "name: shop\nsource:\n  dsn: postgres://fluxo:${PW}@db:5432/shop?sslmode=require\n"
	c, err := Parse("f.yaml", []byte(file), envOf(map[string]string{"PW": "a#b c/d?e@f%g"}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.Source.DSN)
	if err != nil {
		t.Fatalf("normalized DSN does not parse: %v", err)
	}
	pw, _ := u.User.Password()
	if pw != "a#b c/d?e@f%g" || u.Host != "db:5432" || u.Query().Get("sslmode") != "require" {
		t.Errorf("got %s: password %q", Redact(c.Source.DSN), pw)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"mysql://fluxo:secret@127.0.0.1:3306/shop", "mysql://fluxo:***@127.0.0.1:3306/shop"},
		{"postgres://fluxo:secret@db/shop?sslmode=require", "postgres://fluxo:***@db/shop?sslmode=require"},
		{"mysql://fluxo@db/shop", "mysql://fluxo@db/shop"},
		{"mysql://db:3306/shop", "mysql://db:3306/shop"},
		{"postgres://:secret@db", "postgres://:***@db"},
		{"mysql://fluxo:p%40ss%3Asecret@db/shop", "mysql://fluxo:***@db/shop"},
		{"mysql://fluxo:se#cr@et/x@db/shop", "mysql://fluxo:***@db/shop"},
		{"mysql://fluxo:secret@", "mysql://fluxo:***@"},
		{"postgres://u@db/shop?password=secret&sslmode=disable", "postgres://u@db/shop?password=***&sslmode=disable"},
		{"s3://b/p?region=x&secret_access_key=secret#f", "s3://b/p?region=x&secret_access_key=***#f"},
		{"mysql://fluxo:secret", "mysql://***"},
		{"mysql://fluxo:secret/shop", "mysql://***"},
		{"mysql:/fluxo:secret@db/shop", "***@db/shop"},
		{"fluxo:secret@tcp(db:3306)/shop", "***@tcp(db:3306)/shop"},
		{"host=db user=u password=secret dbname=shop", "host=db user=u password=*** dbname=shop"},
		{"host=db password='se cret' sslmode=off", "host=db password=*** sslmode=off"},
		{"", ""},
		{"://", "://***"},
		{"not a dsn", "not a dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			got := Redact(tt.dsn)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if strings.Contains(got, "secret") && !strings.Contains(tt.want, "secret") {
				t.Errorf("shows the password: %q", got)
			}
		})
	}
}

// FuzzRedact checks that Redact never panics and never shows a password
// placed in the user info of a URL DSN.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"hunter22", "p#ss:w@rd", "a/b?c", "%zz", "12/x", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		_ = Redact(pw)
		dsn := "mysql://fluxo:" + pw + "@db.internal:3306/shop"
		if len(pw) < 4 || strings.ContainsAny(pw, "*") || strings.Contains("fluxo:@db.internal:3306/shop", pw) {
			return
		}
		if got := Redact(dsn); strings.Contains(got, pw) {
			t.Errorf("Redact(%q) = %q", dsn, got)
		}
	})
}
