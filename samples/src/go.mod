module heapdoc.dev/samples

go 1.19
