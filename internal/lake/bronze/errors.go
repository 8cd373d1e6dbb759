package bronze

import (
	"errors"
	"fmt"
	"io/fs"
	"net"

	"github.com/aws/smithy-go"
	"gocloud.dev/gcerrors"
)

// ErrExists is wrapped by errors from Create when the object already exists;
// the bronze layer is append-only and never overwrites an object.
var ErrExists = errors.New("object already exists")

// ErrUnreachable is wrapped by errors caused by an object store that cannot be reached.
var ErrUnreachable = errors.New("object store unreachable")

// ErrNoBucket is wrapped by errors caused by a bucket that does not exist.
var ErrNoBucket = errors.New("bucket does not exist")

// ErrAccessDenied is wrapped by errors caused by missing permissions.
var ErrAccessDenied = errors.New("access denied")

// errorf builds an error that wraps both the sentinel and the cause.
func (s *Store) errorf(sentinel, cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return fmt.Errorf("bronze.url %s: %s: %w (%w)", s.loc.display, msg, sentinel, cause)
}

// classify turns a backend error for action ("list", "read" or "write") on key
// into an error naming the cause and the fix; unknown errors are wrapped as is.
func (s *Store) classify(action, key string, err error) error {
	switch {
	case isUnreachable(err):
		return s.errorf(ErrUnreachable, err, "cannot reach %s: check the endpoint, the network and that the service is running", s.loc.endpointDesc())
	case isNoBucket(err):
		return s.errorf(ErrNoBucket, err, "%s", s.loc.noBucketHint())
	case isDenied(err):
		return s.errorf(ErrAccessDenied, err, "%s", s.loc.deniedHint(action, key))
	}
	return fmt.Errorf("bronze.url %s: %s %q: %w", s.loc.display, action, key, err)
}

// isUnreachable reports whether err is a network-level failure (refused, DNS, timeout).
func isUnreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}

// isNoBucket reports whether err says the bucket itself is missing.
func isNoBucket(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket"
}

// isDenied reports whether err is a permission failure.
func isDenied(err error) bool {
	return gcerrors.Code(err) == gcerrors.PermissionDenied || errors.Is(err, fs.ErrPermission)
}

// isPreconditionFailed reports whether err is a failed "create only if absent" guard.
func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict" {
		return true
	}
	return gcerrors.Code(err) == gcerrors.FailedPrecondition
}
