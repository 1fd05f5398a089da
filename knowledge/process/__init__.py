"""Running the knowledge base: in a child process (KnowledgeProcess) and as the one owner of an
embedded store that other processes hand their ingests to."""
