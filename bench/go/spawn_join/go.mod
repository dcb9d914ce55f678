// Provides the module of the spawn_join Go twin (standard library only; built by bench/run.py).
module weft.bench/spawn_join

go 1.19
