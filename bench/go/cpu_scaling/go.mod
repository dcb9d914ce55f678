// Provides the module of the cpu_scaling Go twin (standard library only; built by bench/run.py).
module weft.bench/cpu_scaling

go 1.19
