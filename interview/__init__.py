"""interview: the mock interview on Transformer failure modes and fine-tuning: the item bank,
graders (choice, free text, code in a sandbox), ability estimates, the session, the Gradio app."""
