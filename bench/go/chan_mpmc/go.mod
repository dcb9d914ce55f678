// Provides the module of the chan_mpmc Go twin (standard library only; built by bench/run.py).
module weft.bench/chan_mpmc

go 1.19
