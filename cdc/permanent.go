package cdc

import "errors"

// PermanentError is a failure that retrying cannot fix: a refused
// password, a missing privilege, a purged binlog, a value the sink cannot
// encode, a schema the registry rejects. Fix says what will fix it. Every
// fluxo component returns this one type for "retrying will not help", so
// that a retry loop (Recover) tells it from a lost connection with
// Permanent alone.
type PermanentError struct {
	Err error
	Fix string
}

func (e *PermanentError) Error() string { return e.Err.Error() + ": " + e.Fix }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent reports whether err is, or wraps, a *PermanentError.
func Permanent(err error) bool { return errors.As(err, new(*PermanentError)) }

// Transient reports whether retrying after err may help: the opposite of
// Permanent, in the form Recover takes.
func Transient(err error) bool { return !Permanent(err) }
