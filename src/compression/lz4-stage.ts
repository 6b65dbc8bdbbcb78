/**
 * LZ4 stages (astreamer_lz4.c's compressor and decompressor): the LZ4 frame format, with blocks
 * compressed by lz4-napi (lz4_flex) and decoded by our own block decoder.
 *
 * The level is accepted and validated as pg does (1-12, 0 = fast) but lz4_flex has one level only:
 * every level gives lz4's fast mode, whose output any LZ4 reader decodes (pg's levels 3-12 select
 * LZ4HC, which compresses smaller and much slower).
 */
import type { ByteSink } from '../archive/streamer.js';
import { CodecStage } from './codec-stage.js';
import { lz4Lib, type Lz4Lib } from './libs.js';
import { Lz4FrameDecoder, Lz4FrameEncoder, type Lz4BlockCompressor, type Lz4PrefixedBlockCompressor } from './lz4-frame.js';

/**
 * The LZ4 block of lz4-napi's size-prefixed output, reusing its buffer; `prefixed` hands the whole
 * output over, its 4-byte prefix then overwritten by the frame encoder with the block size.
 */
export function lz4BlockCompressor(lib: Lz4Lib): Lz4BlockCompressor & Lz4PrefixedBlockCompressor {
  const prefixed = (raw: Buffer): Buffer | undefined => {
    const packed = lib.compressSync(raw);
    return packed.length >= 4 ? packed : undefined;
  };
  const block = (raw: Buffer): Buffer | undefined => prefixed(raw)?.subarray(4);
  return Object.assign(block, { prefixed });
}

export function createLz4Compressor(lib: Lz4Lib, next: ByteSink): ByteSink {
  const encoder = new Lz4FrameEncoder(lz4BlockCompressor(lib));
  // In place: the encoder copies input into its block buffer and outputs only buffers of its own.
  return new CodecStage(encoder, next, 'could not compress data', true);
}

export function createLz4Decompressor(next: ByteSink): ByteSink {
  const decoder = new Lz4FrameDecoder();
  return new CodecStage(
    {
      push: (b) => decoder.push(b),
      finish: () => {
        decoder.finish();
        return [];
      },
    },
    next,
    'could not decompress data',
  );
}

/** Whether LZ4 compression is available (decompression always is). */
export function lz4Available(): boolean {
  return lz4Lib() !== undefined;
}
