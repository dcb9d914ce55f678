// Provides the module of the skynet Go twin (standard library only; built by bench/run.py).
module weft.bench/skynet

go 1.19
