// Provides the module of the ping_pong Go twin (standard library only; built by bench/run.py).
module weft.bench/ping_pong

go 1.19
