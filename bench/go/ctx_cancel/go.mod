// Provides the module of the ctx_cancel Go twin (standard library only; built by bench/run.py).
module weft.bench/ctx_cancel

go 1.19
