module github.com/kinfer/kinfer/bindings/go

go 1.24
