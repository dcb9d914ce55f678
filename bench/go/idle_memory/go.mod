// Provides the module of the idle_memory Go twin (standard library only; built by bench/run.py).
module weft.bench/idle_memory

go 1.19
