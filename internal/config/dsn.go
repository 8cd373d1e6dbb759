package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Connector returns the kind of source the DSN names: cdc.ConnectorMySQL for
// a mysql:// DSN, cdc.ConnectorPostgres for a postgres:// or postgresql://
// DSN, and "" otherwise. The scheme is not case-sensitive.
func (s Source) Connector() cdc.Connector {
	scheme, _, ok := strings.Cut(s.DSN, "://")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "mysql":
		return cdc.ConnectorMySQL
	case "postgres", "postgresql":
		return cdc.ConnectorPostgres
	}
	return ""
}

// MySQLDSN is a parsed mysql:// DSN.
type MySQLDSN struct {
	// User and Password are percent-decoded.
	User, Password string
	// Host is a name or an IP address, without brackets.
	Host string
	// Port defaults to 3306.
	Port uint16
	// Database may be empty.
	Database string
	// Params are the query parameters.
	Params url.Values
}

// Addr returns host:port, bracketing an IPv6 host.
func (d MySQLDSN) Addr() string {
	return net.JoinHostPort(d.Host, strconv.Itoa(int(d.Port)))
}

// String returns the DSN with the password replaced by ***.
func (d MySQLDSN) String() string {
	u := url.URL{Scheme: "mysql", Host: d.Addr(), Path: "/" + d.Database, RawQuery: d.Params.Encode()}
	if d.Password != "" {
		u.User = url.UserPassword(d.User, "pw")
	} else if d.User != "" {
		u.User = url.User(d.User)
	}
	return Redact(u.String())
}

// GoString makes %#v as safe as %v.
func (d MySQLDSN) GoString() string { return d.String() }

// ParseMySQLDSN parses mysql://user:password@host:port/database?params.
// The host is required; the port defaults to 3306. A raw password with
// characters that URLs reserve is accepted (see Source.DSN). Errors never
// contain the password.
func ParseMySQLDSN(dsn string) (MySQLDSN, error) {
	d, err := parseMySQL(dsn)
	if err != nil {
		return MySQLDSN{}, fmt.Errorf("mysql DSN %s: %w", Redact(dsn), err)
	}
	return d, nil
}

const mysqlForm = "mysql://user:password@host:3306/database"

func parseMySQL(dsn string) (MySQLDSN, error) {
	u, _, err := parseDSN(dsn)
	if err != nil {
		return MySQLDSN{}, err
	}
	if u.Scheme != "mysql" {
		return MySQLDSN{}, fmt.Errorf("scheme %q is not mysql://", u.Scheme)
	}
	d := MySQLDSN{Host: u.Hostname(), Port: 3306, Params: u.Query()}
	if d.Host == "" {
		return MySQLDSN{}, errors.New("host is missing; write " + mysqlForm)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return MySQLDSN{}, fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
		d.Port = uint16(n)
	}
	d.Database = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(d.Database, "/") {
		return MySQLDSN{}, fmt.Errorf("database %q contains '/'; write %s", d.Database, mysqlForm)
	}
	if u.User != nil {
		d.User = u.User.Username()
		d.Password, _ = u.User.Password()
	}
	return d, nil
}

var errNotURL = errors.New("not a URL like scheme://user:password@host:port/database")

// parseDSN parses a DSN URL. A well-formed URL is parsed as usual
// (percent-decoding the user and password). When that fails, or when the
// result shows that a raw password swallowed part of the URL ('#', or an '@'
// after the host), the user info is taken literally up to the last '@';
// lenient is then true. Errors never contain the user info.
func parseDSN(dsn string) (u *url.URL, lenient bool, err error) {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok || scheme == "" {
		return nil, false, errNotURL
	}
	at := strings.LastIndexByte(rest, '@')
	u, err = url.Parse(dsn)
	if err == nil && !strings.Contains(rest, "#") &&
		(at < 0 || u.User != nil && !strings.Contains(u.Path, "@")) {
		return u, false, nil
	}
	if at < 0 {
		return nil, false, errNotURL
	}
	u, err = url.Parse(scheme + "://" + rest[at+1:])
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL after the user info holds no secret
		}
		return nil, false, err
	}
	if u.Fragment != "" {
		return nil, false, errors.New("'#' after the host is not allowed")
	}
	user, pass, hasPass := strings.Cut(rest[:at], ":")
	u.User = url.User(user)
	if hasPass {
		u.User = url.UserPassword(user, pass)
	}
	return u, true, nil
}

var secretParamRE = regexp.MustCompile(`(?i)pass|pwd|secret|token`)

// Redact returns dsn with its password replaced by ***, for logs and
// messages. Everything between "://" and the last '@' after the user name
// is hidden, and so are query parameters whose name mentions a password,
// secret or token. It accepts any string, never panics, and errs on the side
// of hiding: input it cannot read is shortened to "scheme://***".
func Redact(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return redactOpaque(dsn)
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		if _, err := url.Parse(dsn); err != nil {
			return scheme + "://***"
		}
		return scheme + "://" + redactTail(rest)
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if hasPass {
		user += ":***"
	}
	return scheme + "://" + user + "@" + redactTail(rest[at+1:])
}

// redactTail hides secret query parameters in host/path?query#fragment.
func redactTail(s string) string {
	base, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	pairs := strings.Split(query, "&")
	for i, p := range pairs {
		k, _, hasValue := strings.Cut(p, "=")
		if hasValue && secretParamRE.MatchString(k) {
			pairs[i] = k + "=***"
		}
	}
	out := base + "?" + strings.Join(pairs, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

var kvSecretRE = regexp.MustCompile(`(?i)((?:pass\w*|pwd|secret\w*|token)\s*=\s*)('(?:[^'\\]|\\.)*'?|"[^"]*"?|[^\s;&]*)`)

// redactOpaque handles a DSN that is not a URL: key=value pairs
// ("host=db password=x") and "user:password@host" forms.
func redactOpaque(s string) string {
	s = kvSecretRE.ReplaceAllString(s, "${1}***")
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		return "***" + s[at:]
	}
	return s
}
