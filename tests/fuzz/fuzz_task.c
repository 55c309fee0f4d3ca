/* fuzz_task.c: libFuzzer target for tock_proto_decode_task, with the
 * decode -> encode -> decode round-trip property of fuzz_codec.h. Seed
 * corpus: corpus/fuzz_task/ (tests/fuzz/gen_corpus.c), dictionary:
 * fuzz_task.dict. */
#include "fuzz_codec.h"

TOCK_FUZZ_CODEC(task)
