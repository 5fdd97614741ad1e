"""asr: streaming speech recognition: audio frames in, partial and final transcripts out."""
