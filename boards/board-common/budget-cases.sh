# The budget cases of every board's `wasm-aot run --board` check, sourced by the boards'
# run-tests.sh after they define `compare NAME EXPECTED_STATUS ARGS...` (a board run and a hosted
# run of $image under the flags in the array $limits must print the same bytes and exit with
# EXPECTED_STATUS) and compile tests/fuel/budget.wat with fuel and epochs into $cli/budget.img:
# the same fuel consumed, the same stops (out of fuel, deadline passed), the same refusals of an
# image compiled without them ($cli/run.img).
image=$cli/budget.img
limits=(--fuel 1000)
compare sum 0 10
limits=(--fuel 100)
compare sum 134 1000
compare spin 134
limits=(--epoch-deadline 20)
compare spin 134
limits=(--fuel 100000 --epoch-deadline 100000)
compare sum 0 100
image=$cli/run.img
limits=(--fuel 1000)
compare add 1 2 3
limits=(--epoch-deadline 5)
compare add 1 2 3
limits=()
