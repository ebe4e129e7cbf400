;; Four HMAC-SHA256 tags of one one-block message at once, under four keys
;; whose midstates sit side by side: the scan of hsub_scan.ts in 128-bit
;; SIMD lanes (FIPS 180-4 §6.2.2; RFC 2104). Assembled by scripts/wat.ts.
;;
;; Memory (bytes), written by hsub_scan.ts:
;;   0     KW   64 x v128  K[t] + W[t] of the message's inner block, each splat to 4 lanes
;;   1024  E3   v128       the tag's word 3, splat
;;   1040  E7   v128       the tag's word 7, splat
;;   1088  WO   64 x v128  the outer block's schedule (words 8..15, the padding, fixed)
;;   2112  KO   64 x v128  K[t], splat
;;   4096  S    groups of four midstates: word j (0..15) of lane l at 4096 + 256 g + 16 j + 4 l
;;
;; scan(n, from) returns the first key index i in [from, n) whose outer
;; digest words 3 and 7 equal E3 and E7 (the caller checks the whole tag),
;; or -1. The outer compression stops after round 60: a and e then end as
;; words 3 and 7.
(module
  (memory (export "memory") 1)
  (func $scan (export "scan") (param $n i32) (param $from i32) (result i32)
    (local $g i32) (local $end i32) (local $base i32) (local $t i32) (local $mask i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $e v128) (local $f v128) (local $gg v128) (local $h v128)
    (local $t1 v128) (local $t2 v128) (local $x v128) (local $y v128)
    ;; groups [from / 4, ceil(n / 4))
    local.get $from
    i32.const 2
    i32.shr_u
    local.set $g
    local.get $n
    i32.const 3
    i32.add
    i32.const 2
    i32.shr_u
    local.set $end
    block $done
      loop $group
        local.get $g
        local.get $end
        i32.ge_u
        br_if $done
        local.get $g
        i32.const 8
        i32.shl
        i32.const 4096
        i32.add
        local.set $base
        ;; inner compression from the ipad state (words 0..7)
        local.get $base
        v128.load offset=0
        local.set $a
        local.get $base
        v128.load offset=16
        local.set $b
        local.get $base
        v128.load offset=32
        local.set $c
        local.get $base
        v128.load offset=48
        local.set $d
        local.get $base
        v128.load offset=64
        local.set $e
        local.get $base
        v128.load offset=80
        local.set $f
        local.get $base
        v128.load offset=96
        local.set $gg
        local.get $base
        v128.load offset=112
        local.set $h
        i32.const 0
        local.set $t
        loop $inner
          ;; t1 = h + S1(e) + Ch(e, f, g) + (K[t] + W[t])
          local.get $h
          local.get $e
          i32.const 6
          i32x4.shr_u
          local.get $e
          i32.const 26
          i32x4.shl
          v128.or
          local.get $e
          i32.const 11
          i32x4.shr_u
          local.get $e
          i32.const 21
          i32x4.shl
          v128.or
          v128.xor
          local.get $e
          i32.const 25
          i32x4.shr_u
          local.get $e
          i32.const 7
          i32x4.shl
          v128.or
          v128.xor
          i32x4.add
          local.get $f
          local.get $gg
          local.get $e
          v128.bitselect
          i32x4.add
          local.get $t
          v128.load offset=0
          i32x4.add
          local.set $t1
          ;; t2 = S0(a) + Maj(a, b, c), Maj = bitselect(c, b, a ^ b)
          local.get $a
          i32.const 2
          i32x4.shr_u
          local.get $a
          i32.const 30
          i32x4.shl
          v128.or
          local.get $a
          i32.const 13
          i32x4.shr_u
          local.get $a
          i32.const 19
          i32x4.shl
          v128.or
          v128.xor
          local.get $a
          i32.const 22
          i32x4.shr_u
          local.get $a
          i32.const 10
          i32x4.shl
          v128.or
          v128.xor
          local.get $c
          local.get $b
          local.get $a
          local.get $b
          v128.xor
          v128.bitselect
          i32x4.add
          local.set $t2
          local.get $gg
          local.set $h
          local.get $f
          local.set $gg
          local.get $e
          local.set $f
          local.get $d
          local.get $t1
          i32x4.add
          local.set $e
          local.get $c
          local.set $d
          local.get $b
          local.set $c
          local.get $a
          local.set $b
          local.get $t1
          local.get $t2
          i32x4.add
          local.set $a
          local.get $t
          i32.const 16
          i32.add
          local.tee $t
          i32.const 1024
          i32.lt_u
          br_if $inner
        end
        ;; the inner digest: the outer block's words 0..7
        i32.const 1088
        local.get $base
        v128.load offset=0
        local.get $a
        i32x4.add
        v128.store offset=0
        i32.const 1088
        local.get $base
        v128.load offset=16
        local.get $b
        i32x4.add
        v128.store offset=16
        i32.const 1088
        local.get $base
        v128.load offset=32
        local.get $c
        i32x4.add
        v128.store offset=32
        i32.const 1088
        local.get $base
        v128.load offset=48
        local.get $d
        i32x4.add
        v128.store offset=48
        i32.const 1088
        local.get $base
        v128.load offset=64
        local.get $e
        i32x4.add
        v128.store offset=64
        i32.const 1088
        local.get $base
        v128.load offset=80
        local.get $f
        i32x4.add
        v128.store offset=80
        i32.const 1088
        local.get $base
        v128.load offset=96
        local.get $gg
        i32x4.add
        v128.store offset=96
        i32.const 1088
        local.get $base
        v128.load offset=112
        local.get $h
        i32x4.add
        v128.store offset=112
        ;; schedule words 16..60: w = s1(w[-2]) + w[-7] + s0(w[-15]) + w[-16]
        i32.const 1344
        local.set $t
        loop $expand
          local.get $t
          i32.const -32
          i32.add
          v128.load offset=0
          local.set $x
          local.get $t
          i32.const -240
          i32.add
          v128.load offset=0
          local.set $y
          local.get $t
          ;; s1(x) = rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10)
          local.get $x
          i32.const 17
          i32x4.shr_u
          local.get $x
          i32.const 15
          i32x4.shl
          v128.or
          local.get $x
          i32.const 19
          i32x4.shr_u
          local.get $x
          i32.const 13
          i32x4.shl
          v128.or
          v128.xor
          local.get $x
          i32.const 10
          i32x4.shr_u
          v128.xor
          local.get $t
          i32.const -112
          i32.add
          v128.load offset=0
          i32x4.add
          ;; s0(y) = rotr(y, 7) ^ rotr(y, 18) ^ (y >> 3)
          local.get $y
          i32.const 7
          i32x4.shr_u
          local.get $y
          i32.const 25
          i32x4.shl
          v128.or
          local.get $y
          i32.const 18
          i32x4.shr_u
          local.get $y
          i32.const 14
          i32x4.shl
          v128.or
          v128.xor
          local.get $y
          i32.const 3
          i32x4.shr_u
          v128.xor
          i32x4.add
          local.get $t
          i32.const -256
          i32.add
          v128.load offset=0
          i32x4.add
          v128.store offset=0
          local.get $t
          i32.const 16
          i32.add
          local.tee $t
          i32.const 2064
          i32.lt_u
          br_if $expand
        end
        ;; outer compression from the opad state (words 8..15), rounds 0..60
        local.get $base
        v128.load offset=128
        local.set $a
        local.get $base
        v128.load offset=144
        local.set $b
        local.get $base
        v128.load offset=160
        local.set $c
        local.get $base
        v128.load offset=176
        local.set $d
        local.get $base
        v128.load offset=192
        local.set $e
        local.get $base
        v128.load offset=208
        local.set $f
        local.get $base
        v128.load offset=224
        local.set $gg
        local.get $base
        v128.load offset=240
        local.set $h
        i32.const 0
        local.set $t
        loop $outer
          local.get $h
          local.get $e
          i32.const 6
          i32x4.shr_u
          local.get $e
          i32.const 26
          i32x4.shl
          v128.or
          local.get $e
          i32.const 11
          i32x4.shr_u
          local.get $e
          i32.const 21
          i32x4.shl
          v128.or
          v128.xor
          local.get $e
          i32.const 25
          i32x4.shr_u
          local.get $e
          i32.const 7
          i32x4.shl
          v128.or
          v128.xor
          i32x4.add
          local.get $f
          local.get $gg
          local.get $e
          v128.bitselect
          i32x4.add
          local.get $t
          v128.load offset=2112
          i32x4.add
          local.get $t
          v128.load offset=1088
          i32x4.add
          local.set $t1
          local.get $a
          i32.const 2
          i32x4.shr_u
          local.get $a
          i32.const 30
          i32x4.shl
          v128.or
          local.get $a
          i32.const 13
          i32x4.shr_u
          local.get $a
          i32.const 19
          i32x4.shl
          v128.or
          v128.xor
          local.get $a
          i32.const 22
          i32x4.shr_u
          local.get $a
          i32.const 10
          i32x4.shl
          v128.or
          v128.xor
          local.get $c
          local.get $b
          local.get $a
          local.get $b
          v128.xor
          v128.bitselect
          i32x4.add
          local.set $t2
          local.get $gg
          local.set $h
          local.get $f
          local.set $gg
          local.get $e
          local.set $f
          local.get $d
          local.get $t1
          i32x4.add
          local.set $e
          local.get $c
          local.set $d
          local.get $b
          local.set $c
          local.get $a
          local.set $b
          local.get $t1
          local.get $t2
          i32x4.add
          local.set $a
          local.get $t
          i32.const 16
          i32.add
          local.tee $t
          i32.const 976
          i32.lt_u
          br_if $outer
        end
        ;; words 3 and 7 of the tag: opad word 3 + a, opad word 7 + e
        local.get $base
        v128.load offset=176
        local.get $a
        i32x4.add
        i32.const 1024
        v128.load offset=0
        i32x4.eq
        local.get $base
        v128.load offset=240
        local.get $e
        i32x4.add
        i32.const 1040
        v128.load offset=0
        i32x4.eq
        v128.and
        i32x4.bitmask
        ;; lanes before `from` and from `n` on are not keys to try:
        ;; bits & (15 << max(from - 4g, 0)) & ((1 << min(n - 4g, 4)) - 1)
        i32.const 15
        local.get $from
        local.get $g
        i32.const 2
        i32.shl
        i32.sub
        local.tee $mask
        i32.const 0
        local.get $mask
        i32.const 0
        i32.gt_s
        select
        i32.shl
        i32.and
        local.get $n
        local.get $g
        i32.const 2
        i32.shl
        i32.sub
        local.tee $mask
        i32.const 4
        local.get $mask
        i32.const 4
        i32.lt_u
        select
        local.set $mask
        i32.const 1
        local.get $mask
        i32.shl
        i32.const 1
        i32.sub
        i32.and
        local.set $mask
        local.get $mask
        if
          local.get $g
          i32.const 2
          i32.shl
          local.get $mask
          i32.ctz
          i32.add
          return
        end
        local.get $g
        i32.const 1
        i32.add
        local.set $g
        br $group
      end
    end
    i32.const -1
  )
)
