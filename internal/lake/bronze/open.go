package bronze

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
)

// location is the parsed form of bronze.url.
type location struct {
	scheme   string // "file" or "s3"
	bucket   string // S3 bucket, or the directory for file://
	prefix   string // key prefix inside the bucket, without leading or trailing slash
	endpoint string // S3 endpoint override, if any
	display  string // URL without query, safe to print
}

// endpointDesc describes where the store lives, for error messages.
func (l location) endpointDesc() string {
	if l.endpoint != "" {
		return "the S3 endpoint " + l.endpoint
	}
	if l.scheme == "s3" {
		return "the S3 service for bucket " + l.bucket
	}
	return "the directory " + l.bucket
}

// noBucketHint explains a missing bucket and how to fix it.
func (l location) noBucketHint() string {
	return fmt.Sprintf("the bucket %q does not exist: create it (aws s3 mb s3://%s) or correct the bucket name in bronze.url", l.bucket, l.bucket)
}

// deniedHint names the permission to grant for action on key.
func (l location) deniedHint(action, key string) string {
	if l.scheme == "file" {
		return fmt.Sprintf("permission denied to %s %q under %s: give the fluxo user read and write access to the directory", action, key, l.bucket)
	}
	arn := "arn:aws:s3:::" + joinNonEmpty(l.bucket, l.prefix) + "/*"
	switch action {
	case "list":
		return fmt.Sprintf("the bucket is not listable with these credentials: grant s3:ListBucket on arn:aws:s3:::%s", l.bucket)
	case "read":
		return "the bucket is not readable with these credentials: grant s3:GetObject on " + arn
	}
	return "the bucket is not writable with these credentials: grant s3:PutObject on " + arn
}

// joinNonEmpty joins non-empty parts with "/".
func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}

// parseLocation parses bronze.url into a location.
func parseLocation(rawURL string) (location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return location{}, fmt.Errorf("bronze.url: %w: expected file:///path or s3://bucket/prefix", err)
	}
	loc := location{scheme: u.Scheme, display: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()}
	switch u.Scheme {
	case "file":
		if u.Host == "." || u.Host == ".." { // file://./bronze: relative to the working directory
			abs, err := filepath.Abs(u.Host + u.Path)
			if err != nil {
				return location{}, fmt.Errorf("bronze.url %s: %w", loc.display, err)
			}
			u.Host, u.Path = "", abs
		}
		if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) {
			return location{}, fmt.Errorf("bronze.url %s: a file URL needs an absolute path, like file:///var/lib/fluxo/bronze, or one relative to the working directory, like file://./bronze", loc.display)
		}
		loc.bucket = filepath.Clean(u.Path)
	case "s3":
		if u.Host == "" {
			return location{}, fmt.Errorf("bronze.url %s: missing bucket name, expected s3://bucket/prefix", loc.display)
		}
		loc.bucket, loc.prefix, loc.endpoint = u.Host, strings.Trim(u.Path, "/"), u.Query().Get("endpoint")
	default:
		return location{}, fmt.Errorf("bronze.url %s: unsupported scheme %q: use file:///path or s3://bucket/prefix", loc.display, u.Scheme)
	}
	return loc, nil
}

// Open opens the bronze store at rawURL (bronze.url): file:///path (the directory
// is created if missing) or s3://bucket/prefix?region=...&endpoint=...&use_path_style=true
// (s3ForcePathStyle=true is accepted too). The URL path is a key prefix. For S3,
// Open checks that the bucket exists and can be listed, so a wrong endpoint or
// bucket is reported here with a clear cause.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	loc, err := parseLocation(rawURL)
	if err != nil {
		return nil, err
	}
	var b *blob.Bucket
	if loc.scheme == "file" {
		b, err = openFile(loc)
	} else {
		b, err = openS3(ctx, loc, rawURL)
	}
	if err != nil {
		return nil, fmt.Errorf("bronze.url %s: %w", loc.display, err)
	}
	if loc.prefix != "" {
		b = blob.PrefixedBucket(b, loc.prefix+"/")
	}
	s := &Store{bucket: b, loc: loc}
	if err := s.checkBucket(ctx); err != nil {
		_ = b.Close()
		return nil, err
	}
	return s, nil
}

// openFile opens a fileblob bucket that writes no sidecar files and keeps its
// temporary files next to the target, so the final rename stays on one file system.
func openFile(loc location) (*blob.Bucket, error) {
	return fileblob.OpenBucket(loc.bucket, &fileblob.Options{
		CreateDir: true,
		NoTempDir: true,
		Metadata:  fileblob.MetadataDontWrite,
	})
}

// openS3 opens an s3blob bucket with an AWS SDK v2 client configured from the URL.
func openS3(ctx context.Context, loc location, rawURL string) (*blob.Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	cfg, err := awsConfig(ctx, q.Get("region"))
	if err != nil {
		return nil, err
	}
	pathStyle := isTrue(q.Get("use_path_style")) || isTrue(q.Get("s3ForcePathStyle"))
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if loc.endpoint != "" {
			o.BaseEndpoint = aws.String(loc.endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	return s3blob.OpenBucket(ctx, client, loc.bucket, nil)
}

// isTrue parses a boolean URL parameter; anything unparsable is false.
func isTrue(v string) bool {
	b, _ := strconv.ParseBool(v)
	return b
}

// awsConfig loads the AWS configuration. When AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY are set, it uses them as static credentials and disables
// the EC2 instance metadata client (the AWS_EC2_METADATA_DISABLED behaviour), so
// the SDK never probes 169.254.169.254. Otherwise the standard credential chain applies.
func awsConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id != "" && secret != "" {
		creds := credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
		opts = append(opts,
			config.WithCredentialsProvider(creds),
			config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// checkBucket verifies that the bucket exists and can be listed.
func (s *Store) checkBucket(ctx context.Context) error {
	ok, err := s.bucket.IsAccessible(ctx)
	if err != nil {
		return s.classify("list", "", err)
	}
	if !ok {
		return s.errorf(ErrNoBucket, errors.New("NoSuchBucket"), "%s", s.loc.noBucketHint())
	}
	return nil
}
