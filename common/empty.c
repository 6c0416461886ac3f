/* Placeholder translation unit for targets whose sources live in other archives. */
typedef int spar_empty_translation_unit_;
