package harness

import "flag"

// scale multiplies every workload's N in -mode mem. generate.sh uses it for
// the default-rate runs so that the 512 KiB sampling period still yields a
// useful number of samples. (In its own file so that harness.go's line
// numbers, which appear in the committed profiles, stay the same.)
var scale = flag.Int("scale", 1, "mem mode: run every workload scale*N iterations")
