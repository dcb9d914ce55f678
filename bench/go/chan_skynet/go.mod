// Provides the module of the chan_skynet Go twin (standard library only; built by bench/run.py).
module weft.bench/chan_skynet

go 1.19
