// Provides the module of the fib_fork Go twin (standard library only; built by bench/run.py).
module weft.bench/fib_fork

go 1.19
