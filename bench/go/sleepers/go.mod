// Provides the module of the sleepers Go twin (standard library only; built by bench/run.py).
module weft.bench/sleepers

go 1.19
