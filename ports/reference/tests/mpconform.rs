mpconform_harness::harness!(reference_port::open, init = reference_port::init);
