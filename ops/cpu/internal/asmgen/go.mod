module github.com/resnext/resnext/ops/cpu/internal/asmgen

go 1.26.0
