// Provides the module of the select Go twin (standard library only; built by bench/run.py).
module weft.bench/select

go 1.19
