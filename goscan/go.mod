module heapdoc.dev/goscan

go 1.19
