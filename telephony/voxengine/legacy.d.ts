// Globals the scenario reads only when this VoxEngine still has them; absent from the current typings.

/** The legacy TTS voice list (names such as RU_RUSSIAN_FEMALE), replaced by VoiceList. */
declare var Language: { [name: string]: unknown } | undefined;
