/* fuzz_event.c: libFuzzer target for tock_proto_decode_event, with the
 * decode -> encode -> decode round-trip property of fuzz_codec.h. Seed
 * corpus: corpus/fuzz_event/ (tests/fuzz/gen_corpus.c), dictionary:
 * fuzz_event.dict. */
#include "fuzz_codec.h"

TOCK_FUZZ_CODEC(event)
