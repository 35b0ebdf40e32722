mpconform_harness::harness!(reference_port::open);
