/* fuzz_job.c: libFuzzer target for tock_proto_decode_job, with the
 * decode -> encode -> decode round-trip property of fuzz_codec.h. Seed
 * corpus: corpus/fuzz_job/ (tests/fuzz/gen_corpus.c), dictionary:
 * fuzz_job.dict. */
#include "fuzz_codec.h"

TOCK_FUZZ_CODEC(job)
