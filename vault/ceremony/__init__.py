"""The ceremony engine: definitions, prompts and answers, events, step kinds, the drive loop,
scripts, the recorder and transcripts. UI-free: front ends talk to it through prompts/answers."""
