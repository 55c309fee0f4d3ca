/* fuzz_result.c: libFuzzer target for tock_proto_decode_result, with the
 * decode -> encode -> decode round-trip property of fuzz_codec.h. Seed
 * corpus: corpus/fuzz_result/ (tests/fuzz/gen_corpus.c), dictionary:
 * fuzz_result.dict. */
#include "fuzz_codec.h"

TOCK_FUZZ_CODEC(result)
