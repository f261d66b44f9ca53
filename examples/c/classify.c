/* classify.c - classify one line of text with a phq NLU model (README "NLU on a device").
 *   cc -std=c99 -Icreader examples/c/classify.c build/libphq.a -lm -o classify
 *   echo "wake me up at 7" | ./classify model.phq                                        */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "phq_nlu.h"
#include "phq_posix.h"

int main(int argc, char **argv) {
    phq_mapping file; phq_model model; phq_error err; phq_nlu *nlu; phq_nlu_error nerr;
    char text[4096];
    if (argc != 2 || phq_map_file(argv[1], &file) != 0) return 2;
    if (phq_open(file.data, file.len, &model, &err) != PHQ_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    if (phq_nlu_open(&model, &nlu, &nerr) != PHQ_NLU_OK) return fprintf(stderr, "%s\n", nerr.msg), 1;
    size_t ws_size = phq_nlu_workspace_bound(nlu, sizeof text);   /* enough for any line we read */
    void *ws = malloc(ws_size);
    double *decision = malloc(phq_nlu_output_count(nlu) * sizeof *decision);
    while (fgets(text, sizeof text, stdin)) {
        size_t len = strcspn(text, "\r\n"), label_len;
        if (phq_nlu_decision(nlu, text, len, ws, ws_size, decision, &nerr) != PHQ_NLU_OK) { puts(nerr.msg); continue; }
        const char *label = phq_nlu_class_json(nlu, phq_nlu_argmax(nlu, decision), &label_len);
        printf("%.*s\n", (int)label_len, label);
    }
    free(ws); free(decision); phq_nlu_close(nlu); phq_unmap_file(&file);
    return 0;
}
