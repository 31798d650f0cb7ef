//go:build !kinfer_no_pkgconfig

package kinfer

// The package finds the C library with pkg-config by default: set
// PKG_CONFIG_PATH to an installed kinfer's lib/pkgconfig.  Build with
// -tags kinfer_no_pkgconfig to give the flags yourself instead, for example
// for a build tree that has not been installed:
//
//	CGO_CFLAGS="-I$SRC/include" CGO_LDFLAGS="-L$BUILD -lkinfer" \
//	  go build -tags kinfer_no_pkgconfig

// #cgo pkg-config: kinfer
import "C"
