#!/bin/sh
# A tiny trial for the local-executor tests. Behaviour from VEIL_TUNE_PARAMS "mode":
#   ok (default)  one epoch per 0.05 s, loss = base + 1/epoch; checkpoint file then JSON line
#   crash         exits 3 after epoch 2
#   garbage       prints lines that are not epoch JSON, then exits 0
#   silent        never reports
#   ahead         first start: writes the checkpoint of the last epoch, prints the lines of
#                 epochs 1 and 2 in one write and hangs (a process that ran ahead of what was
#                 read from it and is then killed); a restart resumes after that checkpoint
# Every start appends "start <epoch>" to <checkpoint_dir>/starts.
d="$VEIL_TUNE_CHECKPOINT_DIR"
mkdir -p "$d"
mode=$(printf '%s' "$VEIL_TUNE_PARAMS" | sed -n 's/.*"mode":"\([a-z]*\)".*/\1/p')
base=$(printf '%s' "$VEIL_TUNE_PARAMS" | sed -n 's/.*"base":\([0-9.]*\).*/\1/p')
[ -z "$base" ] && base=1
e=0
[ -f "$d/ckpt" ] && e=$(cat "$d/ckpt")
echo "start $e" >> "$d/starts"
case "$mode" in
  garbage) echo "loading..."; echo "{not json"; echo '{"epoch": "one"}'; exit 0 ;;
  silent) sleep 60; exit 0 ;;
  ahead)
    if [ "$e" -eq 0 ]; then
      echo "$VEIL_TUNE_EPOCHS" > "$d/ckpt.tmp" && mv "$d/ckpt.tmp" "$d/ckpt"
      awk -v b="$base" 'BEGIN { printf "{\"epoch\": 1, \"loss\": %.6f}\n{\"epoch\": 2, \"loss\": %.6f}\n", b + 1, b + 0.5 }'
      sleep 60; exit 0
    fi ;;
esac
while [ "$e" -lt "$VEIL_TUNE_EPOCHS" ]; do
  e=$((e + 1))
  sleep 0.05
  if [ "$mode" = crash ] && [ "$e" -eq 3 ]; then echo "boom" >&2; exit 3; fi
  echo "$e" > "$d/ckpt.tmp" && mv "$d/ckpt.tmp" "$d/ckpt"
  echo "some log line"
  awk -v e="$e" -v b="$base" 'BEGIN { printf "{\"epoch\": %d, \"loss\": %.6f}\n", e, b + 1.0 / e }'
done
