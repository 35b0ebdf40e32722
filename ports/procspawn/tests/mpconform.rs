mpconform_harness::harness!(procspawn_port::open, "mpconform.toml", init = procspawn::init);
